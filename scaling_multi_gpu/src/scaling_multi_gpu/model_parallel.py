"""Tensor and pipeline parallelism on 2 CPU processes, checked against one process.

Data parallelism (train.py) copies the whole model to every rank. When the model itself is too
big for one device, the model is split instead:

* tensor parallel (`tp`): each MLP block's two weight matrices are cut in half (Megatron-LM's
  split). The up-projection is split by output columns (ColwiseParallel): each rank computes half
  of the hidden units. The down-projection is split by input rows (RowwiseParallel): each rank
  multiplies its half, and an all-reduce adds the two partial results.
* pipeline parallel (`pp-gpipe`, `pp-1f1b`): the layers are cut into 2 stages, one per rank, and
  the batch into micro-batches that flow through the stages (`torch.distributed.pipelining`).
  GPipe runs all forwards, then all backwards; 1F1B interleaves them and holds fewer activations.

Every variant trains the same model from the same seed on the same global batches; the full
weights are gathered on rank 0 and compared with a one-process run. They agree within TOLERANCE,
not bit for bit: RowwiseParallel's all-reduce adds two partial sums where one matmul adds all
terms in its own order, and the pipeline adds per-micro-batch gradients (then divides by m) where
one process takes the gradient of the whole batch at once. The micro-batch count and the TP
degree are part of the result, like the number of DDP ranks.

`uv run scaling-model-parallel` starts ONE torchrun launch of 2 gloo processes by itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe
from torch.distributed.tensor import DTensor
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
from torch.utils.data import DataLoader, TensorDataset

from scaling_multi_gpu import equivalence, kernels, pipeline_bubble, receipt
from scaling_multi_gpu import model_parallel_report as report
from scaling_multi_gpu.data import synthetic_images
from scaling_multi_gpu.plumbing import (
    OneLineParser,
    check_out,
    finite_float,
    require_positive,
    run_at_edge,
    seed_int,
)

WORLD = 2  # ranks in the launch: 2 tensor-parallel shards, or 2 pipeline stages
# max |w - w(1 process)| after 40 steps: the same reasoning and value as for DDP (equivalence.py).
# Measured on this MLP: 3e-8 to 4.5e-8 on every kernel level tried (tests/README.md).
TOLERANCE = equivalence.TOLERANCE
KINDS = ("tp", "pp-gpipe", "pp-1f1b")
SCHEDULES = {"pp-gpipe": ScheduleGPipe, "pp-1f1b": Schedule1F1B}
STAGES = (("embed", "block0"), ("block1", "head"))  # stage i = these layers, on rank i
CLASSES, IMAGE_SIZE, N_TRAIN, N_TEST = 10, 8, 1024, 512
FEATURES = 3 * IMAGE_SIZE * IMAGE_SIZE


@dataclass(frozen=True)
class Config:
    seed: int = 0
    steps: int = 40
    batch: int = 64  # the global batch: the same for every variant
    lr: float = 0.05
    dim: int = 64
    hidden: int = 256


@dataclass(frozen=True)
class Variant:
    name: str  # folder and table name, e.g. "pp-gpipe" or "pp-gpipe-m8"
    kind: str  # single | tp | pp-gpipe | pp-1f1b
    micro_batches: int | None = None  # pipeline variants only


# --------------------------------------------------------------------------- model and data
class MLPBlock(nn.Module):
    """A transformer's MLP: up-projection, ReLU, down-projection, residual - Megatron's TP unit."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(torch.relu(self.up(x)))


def build_model(cfg: Config) -> nn.Sequential:
    torch.manual_seed(cfg.seed)  # every rank and every variant starts from the same weights
    layers = OrderedDict(
        embed=nn.Linear(FEATURES, cfg.dim),
        block0=MLPBlock(cfg.dim, cfg.hidden),
        block1=MLPBlock(cfg.dim, cfg.hidden),
        head=nn.Linear(cfg.dim, CLASSES),
    )
    return nn.Sequential(layers)


def make_data(cfg: Config) -> tuple[TensorDataset, TensorDataset]:
    """Seeded synthetic 8x8 images, flattened: the same tensors on every rank, no download."""
    x, y = synthetic_images(N_TRAIN + N_TEST, CLASSES, IMAGE_SIZE, seed=cfg.seed).tensors
    x = x.flatten(1)
    return TensorDataset(x[:N_TRAIN], y[:N_TRAIN]), TensorDataset(x[N_TRAIN:], y[N_TRAIN:])


def batches(train: TensorDataset, cfg: Config) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The same global batches in the same order for every variant (its own seeded generator)."""
    g = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(train, batch_size=cfg.batch, shuffle=True, drop_last=True, generator=g)
    step = 0
    while True:
        for x, y in loader:
            if step == cfg.steps:
                return
            yield x, y
            step += 1


# --------------------------------------------------------------------------- the three ways to train
def sgd_loop(model: nn.Module, cfg: Config, train: TensorDataset) -> list[float]:
    """Plain training; under tensor parallelism the very same loop, DTensor hides the collectives."""
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    step_times = []
    for x, y in batches(train, cfg):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        step_times.append(time.perf_counter() - t0)
    return step_times


def tensor_parallel(model: nn.Sequential, mesh: DeviceMesh) -> nn.Sequential:
    """Megatron's MLP split: columns of `up`, rows of `down`; embed and head stay replicated."""
    plan = {}
    for block in ("block0", "block1"):
        plan[f"{block}.up"] = ColwiseParallel()  # each rank: half of the hidden units
        plan[f"{block}.down"] = RowwiseParallel()  # half of the sum each, then all-reduce
    return parallelize_module(model, mesh, plan)


def pipeline_parallel(
    cfg: Config, train: TensorDataset, variant: Variant, rank: int
) -> tuple[nn.Module, list[float]]:
    """This rank keeps only its stage's layers; the schedule moves micro-batches between ranks."""
    full = build_model(cfg)
    stage_module = nn.Sequential(
        OrderedDict((name, full.get_submodule(name)) for name in STAGES[rank])
    )
    stage = PipelineStage(
        stage_module, stage_index=rank, num_stages=WORLD, device=torch.device("cpu")
    )
    # loss_fn is the mean over each micro-batch; scale_grads (default) divides the summed
    # gradients by m, so the update matches the whole batch's mean loss - up to rounding.
    schedule = SCHEDULES[variant.kind](
        stage, n_microbatches=variant.micro_batches, loss_fn=F.cross_entropy
    )
    optimizer = torch.optim.SGD(stage_module.parameters(), lr=cfg.lr)
    step_times = []
    for x, y in batches(train, cfg):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        if stage.is_first:
            schedule.step(x)  # the first stage feeds the inputs...
        else:
            schedule.step(target=y)  # ...the last one computes the loss
        optimizer.step()
        step_times.append(time.perf_counter() - t0)
    return stage_module, step_times


def train(
    variant: Variant, cfg: Config, train_set: TensorDataset, mesh: DeviceMesh, rank: int
) -> tuple[nn.Module, list[float]]:
    if variant.kind == "single":  # every rank trains the reference itself: no communication
        model = build_model(cfg)
        return model, sgd_loop(model, cfg, train_set)
    if variant.kind == "tp":
        model = tensor_parallel(build_model(cfg), mesh)
        return model, sgd_loop(model, cfg, train_set)
    return pipeline_parallel(cfg, train_set, variant, rank)


# --------------------------------------------------------------------------- gathering the weights
def full_weights(model: nn.Module, variant: Variant) -> dict[str, torch.Tensor] | None:
    """The complete weights on rank 0, None elsewhere (every rank must call: it communicates)."""
    state = model.state_dict()
    if variant.kind == "single":
        return {k: v.detach().clone() for k, v in state.items()}
    if variant.kind == "tp":  # full_tensor() all-gathers a DTensor's shards
        full = {
            k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().clone()
            for k, v in state.items()
        }
        return full if dist.get_rank() == 0 else None
    stages: list[Any] = [None] * WORLD if dist.get_rank() == 0 else None
    dist.gather_object({k: v.detach() for k, v in state.items()}, stages, dst=0)
    return {k: v for part in stages for k, v in part.items()} if stages else None


# --------------------------------------------------------------------------- the launch
def worker(cfg: Config, variants: list[Variant], out: Path, command: list[str]) -> None:
    """Runs on every rank: train each variant, gather, and on rank 0 compare and write."""
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    mesh = init_device_mesh("cpu", (WORLD,))
    train_set, test_set = make_data(cfg)
    data_sha = receipt.data_sha256(*train_set.tensors)
    rows, reference = [], None
    for variant in [Variant("single", "single"), *variants]:
        started = time.time()
        model, step_times = train(variant, cfg, train_set, mesh, rank)
        state = full_weights(model, variant)
        layouts: list[Any] = [None] * WORLD
        dist.all_gather_object(layouts, report.local_layout(model))
        if rank != 0:
            continue
        if reference is None:  # the first variant is the one-process reference
            reference = state
        row = report.compare(variant, state, reference, cfg, step_times, started, layouts)
        row["test_accuracy"] = report.accuracy(build_model, state, cfg, test_set)
        report.save_run(out, row, state, asdict(cfg), data_sha, started, command)
        rows.append(row)
        print(report.progress_line(row), flush=True)
    bubble = pipeline_bubble.bubble_table()
    if rank == 0:
        report.write_summary(out, rows, bubble, TOLERANCE)
        print(f"fingerprint: {kernels.label(kernels.fingerprint())}")
        print(report.render(rows, bubble, TOLERANCE), flush=True)
    dist.destroy_process_group()


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--variants",
        default="tp,pp-gpipe,pp-1f1b,pp-gpipe:8",
        help="comma-separated tp | pp-gpipe | pp-1f1b; ':M' sets that variant's micro-batches",
    )
    p.add_argument("--micro-batches", type=int, default=4, help="pipeline micro-batches per step")
    p.add_argument("--seed", type=seed_int, default=d.seed)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch", type=int, default=d.batch, help="global batch")
    p.add_argument("--lr", type=finite_float, default=d.lr)
    p.add_argument("--out", type=Path, default=Path("outputs/model_parallel"))
    p.add_argument("--figure", type=Path, default=None, help="also copy the PNG here (slides)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # set by the launch
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)

    def body() -> int:
        require_positive(steps=args.steps, batch=args.batch, lr=args.lr)  # NaN refused too
        variants = report.parse_variants(
            args.variants, args.micro_batches, args.batch, KINDS, WORLD
        )
        cfg = Config(seed=args.seed, steps=args.steps, batch=args.batch, lr=args.lr)
        if args.worker:
            command = ["scaling-model-parallel", *(a for a in argv if a != "--worker")]
            torch.set_num_threads(1)  # one thread per rank, like OMP_NUM_THREADS=1 below
            worker(cfg, variants, args.out, command)
            if args.figure and int(os.environ.get("RANK", 0)) == 0:
                report.copy_figure(args.out, args.figure)
            return 0
        check_out(args.out)  # both paths before the launch: a bad one waits for nothing
        check_out(args.figure, "--figure", kind="png")
        return report.launch(argv, WORLD)

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
