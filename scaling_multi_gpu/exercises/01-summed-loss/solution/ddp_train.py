"""A small DDP training script with a bug that accuracy does not show. Find it, fix it.

    uv run torchrun --standalone --nproc-per-node 2 exercises/01-summed-loss/ddp_train.py --out /tmp/two
    uv run torchrun --standalone --nproc-per-node 1 exercises/01-summed-loss/ddp_train.py --out /tmp/one

Both runs see the same 64 images per step (1 x 64 or 2 x 32) and should train the same model.
"""

import argparse
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from scaling_multi_gpu.data import synthetic_images
from scaling_multi_gpu.models import SmallCNN
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

GLOBAL_BATCH, STEPS, N_TRAIN = 64, 24, 2048

p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", type=Path, required=True)
args = p.parse_args()

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
images, labels = synthetic_images(N_TRAIN + 512, seed=args.seed).tensors  # 512 held out for testing
train_set = TensorDataset(images[:N_TRAIN], labels[:N_TRAIN])
sampler = DistributedSampler(
    train_set, num_replicas=world, rank=rank, seed=args.seed, drop_last=True
)
loader = DataLoader(train_set, batch_size=GLOBAL_BATCH // world, sampler=sampler, drop_last=True)

torch.manual_seed(args.seed)
model = DDP(SmallCNN())
# The MEAN loss: DDP averages the ranks' gradients, and the average of per-rank means is the
# mean over the global batch - whatever the number of ranks. No learning-rate correction needed.
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

step, epoch = 0, 0
while step < STEPS:
    sampler.set_epoch(epoch)
    for x, y in loader:
        if step == STEPS:
            break
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)  # fixed: the mean, not the sum
        loss.backward()
        optimizer.step()
        step += 1
    epoch += 1

if rank == 0:
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(model.module.state_dict(), str(args.out / "model.safetensors"))  # tensors, no pickle
    print(f"{world} process(es): {step} steps, last loss {loss.item():.4f}")
dist.destroy_process_group()
