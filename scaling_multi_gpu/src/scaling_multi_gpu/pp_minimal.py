"""Pipeline parallelism in one screen, top to bottom: 2 stages, micro-batches flowing through.

    uv run torchrun --standalone --nproc-per-node 2 -m scaling_multi_gpu.pp_minimal

Rank 0 keeps the first half of the layers, rank 1 the second half. The schedule cuts each batch
into micro-batches: rank 0 runs their forwards and sends the activations on, rank 1 computes the
loss and sends the gradients back. GPipe runs all forwards, then all backwards; Schedule1F1B
interleaves them and holds fewer activations. The gathered weights are compared with one process:
within the tolerance, not bit for bit (micro-batch gradients are added, then divided by m).
"""

import os
import sys
from collections import OrderedDict

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.pipelining import PipelineStage, ScheduleGPipe

from scaling_multi_gpu.model_parallel import TOLERANCE, Config, batches, build_model, make_data

STAGES = (("embed", "block0"), ("block1", "head"))  # stage i = these layers, on rank i
if "RANK" not in os.environ:
    sys.exit("error: launch with torchrun --standalone --nproc-per-node 2")
dist.init_process_group("gloo")  # torchrun set RANK, WORLD_SIZE, MASTER_ADDR
torch.set_num_threads(1)
rank, cfg = dist.get_rank(), Config()  # seed 0, 40 steps, global batch 64, lr 0.05
train_set, _ = make_data(cfg)

full_model = build_model(cfg)  # build_model seeds: every rank starts from the same weights
my_layers = nn.Sequential(OrderedDict((n, full_model.get_submodule(n)) for n in STAGES[rank]))
stage = PipelineStage(my_layers, stage_index=rank, num_stages=2, device=torch.device("cpu"))
# loss_fn: the mean over each micro-batch; the schedule divides the summed gradients by m.
schedule = ScheduleGPipe(stage, n_microbatches=4, loss_fn=F.cross_entropy)  # or Schedule1F1B
optimizer = torch.optim.SGD(my_layers.parameters(), lr=cfg.lr)
for x, y in batches(train_set, cfg):
    optimizer.zero_grad()
    if rank == 0:
        schedule.step(x)  # the first stage feeds the inputs
    else:
        schedule.step(target=y)  # the last stage computes the loss
    optimizer.step()

parts = [None, None] if rank == 0 else None  # gather both stages' weights on rank 0
dist.gather_object({k: v.detach() for k, v in my_layers.state_dict().items()}, parts, dst=0)
status = 0
if rank == 0:
    full = {k: v for part in parts for k, v in part.items()}
    reference = build_model(cfg)  # the same model, trained in this one process
    ref_optimizer = torch.optim.SGD(reference.parameters(), lr=cfg.lr)
    for x, y in batches(train_set, cfg):
        ref_optimizer.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        ref_optimizer.step()
    diff = max((full[k] - v).abs().max().item() for k, v in reference.state_dict().items())
    print(f"rank 0 held {list(STAGES[0])}, rank 1 held {list(STAGES[1])}")
    print(f"pipeline parallel vs one process: max |Δw| = {diff:.2e} (tolerance {TOLERANCE:g})")
    status = 0 if diff <= TOLERANCE else 1
dist.barrier()
dist.destroy_process_group()
sys.exit(status)
