"""Tensor parallelism in one screen, top to bottom: Megatron's split of an MLP over 2 processes.

    uv run torchrun --standalone --nproc-per-node 2 -m scaling_multi_gpu.tp_minimal

Each MLP block's up-projection is cut by output columns, its down-projection by input rows: each
rank holds half of every block, computes half of the hidden units, and an all-reduce adds the two
partial results. The training loop does not change. At the end the full weights are gathered and
compared with the same model trained in one process: within the tolerance, not bit for bit (the
all-reduce adds two partial sums where one matmul adds all terms in its own order).
"""

import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import DTensor
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

from scaling_multi_gpu.model_parallel import TOLERANCE, Config, batches, build_model, make_data

if "RANK" not in os.environ:
    sys.exit("error: launch with torchrun --standalone --nproc-per-node 2")
dist.init_process_group("gloo")  # torchrun set RANK, WORLD_SIZE, MASTER_ADDR
torch.set_num_threads(1)
cfg = Config()  # seed 0, 40 steps, global batch 64, lr 0.05
train_set, _ = make_data(cfg)

mesh = init_device_mesh("cpu", (dist.get_world_size(),))
plan = {}
for block in ("block0", "block1"):
    plan[f"{block}.up"] = ColwiseParallel()  # each rank: half of the hidden units
    plan[f"{block}.down"] = RowwiseParallel()  # half of the sum each, then an all-reduce
model = parallelize_module(build_model(cfg), mesh, plan)  # build_model seeds: same weights

optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
for x, y in batches(train_set, cfg):  # every rank sees the whole batch: TP splits the model
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()

# full_tensor() all-gathers a DTensor's shards (a collective: every rank calls it).
full = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in model.state_dict().items()}
reference = build_model(cfg)  # the same model, trained in this one process
ref_optimizer = torch.optim.SGD(reference.parameters(), lr=cfg.lr)
for x, y in batches(train_set, cfg):
    ref_optimizer.zero_grad()
    F.cross_entropy(reference(x), y).backward()
    ref_optimizer.step()
diff = max((full[k] - v).abs().max().item() for k, v in reference.state_dict().items())
if dist.get_rank() == 0:
    local = model.state_dict()["block0.up.weight"].to_local().shape
    print(f"rank 0 holds block0.up.weight as {tuple(local)} of (256, 64)")
    print(f"tensor parallel vs one process: max |Δw| = {diff:.2e} (tolerance {TOLERANCE:g})")
dist.barrier()
dist.destroy_process_group()
sys.exit(0 if diff <= TOLERANCE else 1)
