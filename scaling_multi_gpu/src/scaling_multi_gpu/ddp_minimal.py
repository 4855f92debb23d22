"""DDP in one screen, top to bottom: read this before train.py (it trains the same weights).

    uv run torchrun --standalone --nproc-per-node 2 -m scaling_multi_gpu.ddp_minimal --seed 0

The workshop's original ddp.py accepted --seed and never applied it. Here every line that makes
2 processes train the one-process model is marked WHY.
"""

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from scaling_multi_gpu import receipt
from scaling_multi_gpu.data import synthetic_images
from scaling_multi_gpu.models import SmallCNN

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--steps", type=int, default=40)
p.add_argument("--global-batch", type=int, default=64)
p.add_argument("--lr", type=float, default=0.05)
p.add_argument("--n-samples", type=int, default=2048)
p.add_argument("--out", type=Path, default=Path("outputs/ddp_minimal"))
args = p.parse_args()
started = time.time()
if "RANK" not in os.environ or args.steps < 1 or args.global_batch % int(os.environ["WORLD_SIZE"]):
    p.exit(2, "error: launch with torchrun; --steps > 0; --global-batch divisible by the ranks\n")

dist.init_process_group("gloo")  # torchrun set RANK, WORLD_SIZE, MASTER_ADDR in the environment
rank, world = dist.get_rank(), dist.get_world_size()
torch.use_deterministic_algorithms(True, warn_only=True)
torch.manual_seed(args.seed)  # WHY: the same seed on every rank -> the same initial weights

images, labels = synthetic_images(args.n_samples + 512, seed=args.seed).tensors  # as train.py
train_set = TensorDataset(images[: args.n_samples], labels[: args.n_samples])
# WHY: one seeded permutation per epoch, sliced per rank: the ranks together see the global batch
sampler = DistributedSampler(
    train_set, num_replicas=world, rank=rank, seed=args.seed, drop_last=True
)
loader = DataLoader(
    train_set,
    batch_size=args.global_batch // world,  # WHY: the LOCAL batch; the global one stays the same
    sampler=sampler,
    drop_last=True,
    generator=torch.Generator().manual_seed(args.seed + rank),  # WHY: trap (d) in rng_lab.py
)

torch.manual_seed(args.seed)  # WHY: build the model from the seed, whatever used the RNG above
model = DDP(SmallCNN())  # averages the gradients over ranks during backward
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

step, epoch = 0, 0
while step < args.steps:
    sampler.set_epoch(epoch)  # WHY: without it every epoch repeats the same order
    for x, y in loader:
        if step == args.steps:
            break
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)  # WHY: the MEAN; a sum would not survive averaging
        loss.backward()
        optimizer.step()
        step += 1
    epoch += 1

if rank == 0:  # every rank holds the same weights now; one writes them
    state = {k: v.detach().clone() for k, v in model.module.state_dict().items()}
    # WHY: safetensors holds tensors only; a pickle (torch.save) can run code when loaded
    receipt.atomic_write(args.out / "model.safetensors", lambda tmp: save_file(state, str(tmp)))
    sha = receipt.weights_sha256(state)
    receipt.write_run_json(
        args.out, seed=args.seed, config=vars(args) | {"world_size": world, "out": str(args.out)},
        metrics={"final_loss": loss.item()}, weights_sha256=sha, started=started,
        data_sha256=receipt.data_sha256(*train_set.tensors), weights_file=args.out / "model.safetensors",
    )  # fmt: skip
    print(f"rank 0 of {world}: {step} steps, loss {loss.item():.4f}, weights_sha256 {sha}")
dist.barrier()  # WHY: leave together; a rank that tears gloo down while rank 0 writes can abort
dist.destroy_process_group()
