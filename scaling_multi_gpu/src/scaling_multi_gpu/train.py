"""One training loop, several strategies: single | dp | ddp | fsdp | deepspeed (ZeRO 1/2/3).

Read it top to bottom: the configuration, seeding, the data, then `train_one` - the loop every
strategy shares. How the model is wrapped for each strategy is in strategies.py, how the run is
timed and turned into MFU in measure.py. Launch with torchrun (`torchrun --standalone
--nproc-per-node 2 -m scaling_multi_gpu.train --strategy ddp`); nccl on GPU, gloo on CPU.

The same seed and the same *global* batch give the same model whatever the strategy: every rank
builds the same initial weights (seeded before construction), DistributedSampler hands each rank its
slice of one seeded permutation, and the mean loss makes averaged gradients equal the one-process
gradient. Gradient accumulation (`--grad-accum 2`) is the same sum in time instead of across
ranks: 1 process x 2 micro-batches = 2 processes x 1 (checked in equivalence.py).

Several strategies can run one after another in one launch (`--strategy ddp,fsdp,zero3`), each
reseeded from scratch: starting processes costs more than training this small model.
Speed runs: `--no-deterministic` turns cudnn.benchmark (the autotuner) back on; deterministic
mode, the default, turns it off and asks for deterministic kernels.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

# cuBLAS needs this set before CUDA initialises to be deterministic (harmless on CPU).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from scaling_multi_gpu import receipt
from scaling_multi_gpu.config import TrainConfig, build_parser, config_from_args
from scaling_multi_gpu.data import dataset_tensors, make_datasets
from scaling_multi_gpu.flops import train_flops_per_sample
from scaling_multi_gpu.measure import (
    gather,
    reset_peak_memory,
    summary_line,
    sync,
    throughput_metrics,
)
from scaling_multi_gpu.models import build_model, evaluate
from scaling_multi_gpu.plumbing import (
    check_out,
    run_at_edge,
)
from scaling_multi_gpu.profile_lab import check_profile_steps, step_profiler
from scaling_multi_gpu.strategies import (
    Dist,
    check_launch,
    full_state_dict,
    grad_sync,
    init_distributed,
    parse_variants,
    wrap_model,
)

__all__ = ["Dist", "TrainConfig", "parse_variants", "train_one"]


def seed_everything(cfg: TrainConfig) -> None:
    """Same seed on every rank: identical initial weights without relying on a broadcast."""
    import random

    import numpy as np

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # also seeds every CUDA device
    # warn_only: an op without a deterministic kernel (e.g. AdaptiveAvgPool2d backward on CUDA, in
    # ResNet) is named in a warning instead of stopping the run; read the warnings.
    torch.use_deterministic_algorithms(cfg.deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not cfg.deterministic  # autotuning picks kernels per run
    if cfg.tf32 != "default":  # TF32 keeps 10 mantissa bits: faster, and other weights
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = cfg.tf32 == "on"


# --------------------------------------------------------------------------- the loop
# What throughput_metrics measures about the machine: reported in run.json, never judged.
MEASURED = ("samples_per_s", "step_time_s", "peak_memory_mib_per_rank", "mfu")
MEASURED += ("achieved_tflops_per_device", "peak_tflops_per_device")


def make_loader(train_set, cfg: TrainConfig, d: Dist, local_batch: int):
    """One seeded permutation per epoch, sliced per rank: together the ranks see exactly the
    global batch a single process would see. set_epoch() reshuffles; forgetting it repeats order."""
    sampler = DistributedSampler(
        train_set, num_replicas=d.world, rank=d.rank, shuffle=True, seed=cfg.seed, drop_last=True
    )
    loader = DataLoader(
        train_set,
        batch_size=local_batch,
        sampler=sampler,
        drop_last=True,
        num_workers=cfg.num_workers,
        pin_memory=d.device.type == "cuda",  # page-locked host memory: async host->GPU copies
        persistent_workers=cfg.num_workers > 0,
        # Seeds the workers' RNGs: seed + rank, or every rank's workers draw the SAME random
        # augmentations (the DataLoader lab's trap d).
        generator=torch.Generator().manual_seed(cfg.seed + d.rank),
    )
    return sampler, loader


def train_step(module, optimizer, engine, x, y, cfg: TrainConfig) -> float:
    """One optimizer step over `grad_accum` micro-batches; returns the step's mean loss."""
    autocast = torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    # A mean loss over a micro-batch, divided by the micro-steps, adds up to the mean over the
    # batch. DeepSpeed's engine divides by its gradient_accumulation_steps itself.
    divide = cfg.grad_accum if engine is None else 1
    if engine is None:
        optimizer.zero_grad(set_to_none=True)
    step_loss = 0.0
    for i, (xm, ym) in enumerate(
        zip(x.chunk(cfg.grad_accum), y.chunk(cfg.grad_accum), strict=True)
    ):
        with grad_sync(module, last_micro_step=i == cfg.grad_accum - 1):
            with autocast:
                loss = F.cross_entropy(module(xm), ym, reduction=cfg.loss_reduction) / divide
            if engine is not None:
                engine.backward(loss)
                engine.step()  # steps the optimizer only at the accumulation boundary
            else:
                loss.backward()  # adds into p.grad; DDP all-reduces on the last one
        step_loss += loss.item() * divide / cfg.grad_accum
    if engine is None:
        optimizer.step()
    return step_loss


def train_loop(module, optimizer, engine, sampler, loader, cfg: TrainConfig, d: Dist, prof):
    """`cfg.steps` optimizer steps, epoch after epoch; returns (seconds per step, losses)."""
    step_times, losses, epoch = [], [], 0
    progress = tqdm(total=cfg.steps, desc=f"{cfg.variant} x{d.world}", disable=d.rank != 0, leave=False)  # fmt: skip
    while len(losses) < cfg.steps:
        sampler.set_epoch(epoch)
        for x, y in itertools.islice(loader, cfg.steps - len(losses)):
            sync(d.device)
            t0 = time.perf_counter()
            x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
            losses.append(train_step(module, optimizer, engine, x, y, cfg))
            sync(d.device)
            step_times.append(time.perf_counter() - t0)
            prof.step()  # the profiler's schedule counts steps (a no-op without --profile)
            progress.update()
        epoch += 1
    progress.close()
    return step_times, losses


def train_one(
    cfg: TrainConfig,
    d: Dist,
    out_dir: Path,
    command: list[str] | None = None,
    out_root: Path | None = None,
    profile_dir: Path | None = None,
) -> dict:
    """Train one strategy from scratch; rank 0 writes model.safetensors and run.json into out_dir."""
    started = time.time()
    check_launch(cfg, d)
    local_batch = cfg.global_batch // d.world  # per optimizer step on this rank
    micro_batch = local_batch // cfg.grad_accum  # per forward/backward

    seed_everything(cfg)
    # A download must happen once: rank 0 fetches CIFAR-100 while the others wait, then they read it.
    download_first = cfg.data == "cifar100" and d.backend is not None
    if download_first and d.rank != 0:
        dist.barrier()
    train_set, test_set = make_datasets(cfg)
    if download_first and d.rank == 0:
        dist.barrier()
    model = build_model(cfg.model, cfg.num_classes, cfg.image_size, cfg.seed)
    flops_per_sample = train_flops_per_sample(model, (3, cfg.image_size, cfg.image_size))
    module, optimizer, engine = wrap_model(model, cfg, d, micro_batch)  # DDP(...) etc. in there
    if d.device.type == "cuda":
        reset_peak_memory([d.device])
    sampler, loader = make_loader(train_set, cfg, d, local_batch)
    with step_profiler(profile_dir, d.rank, cfg.steps) as prof:  # profile_lab.py: --profile DIR
        step_times, losses = train_loop(module, optimizer, engine, sampler, loader, cfg, d, prof)

    state = full_state_dict(module, cfg)
    metrics = throughput_metrics(cfg, d, flops_per_sample, step_times)
    metrics["final_loss"] = statistics.fmean(gather(statistics.fmean(losses[-5:]), d))
    if not math.isfinite(metrics["final_loss"]):  # a run that diverged is no result to keep
        raise Diverged(f"{cfg.variant}: the loss diverged to {metrics['final_loss']} (lower --lr?)")
    metrics["test_accuracy"] = evaluate(state, cfg, test_set, d)  # every rank, on its device
    sha = receipt.weights_sha256(state)
    if d.rank == 0:
        weights = out_dir / "model.safetensors"  # tensors only, no pickle: safe to load anywhere
        receipt.atomic_write(weights, lambda tmp: save_file(state, str(tmp)))
        tensors = dataset_tensors(train_set)
        receipt.write_run_json(
            out_dir,
            seed=cfg.seed,
            config={
                **asdict(cfg),
                "world_size": d.world,
                "local_batch": local_batch,
                "micro_batch": micro_batch,
                "torch_threads": torch.get_num_threads(),  # can change the last bits on CPU
            },
            metrics={k: v for k, v in metrics.items() if k not in MEASURED},
            measurements={k: v for k, v in metrics.items() if k in MEASURED},  # not judged
            weights_sha256=sha,
            data_sha256=receipt.data_sha256(*tensors) if tensors else None,
            started=started,
            device=str(d.device.type),
            command=command,
            weights_file=weights,
            out_root=out_root,
        )
        print(summary_line(cfg.variant, metrics, sha), flush=True)
    if engine is not None:
        engine.destroy()
    if d.backend is not None:
        dist.barrier()
    return {"variant": cfg.variant, "metrics": metrics, "weights_sha256": sha}


class Diverged(RuntimeError):
    """The loss became NaN or infinite: not bad input (the settings were legal), but no result."""


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        variants = parse_variants(args.strategy, config_from_args(args))
        check_out(args.out)  # before the process group: a bad path waits for nothing
        if check_out(args.profile, "--profile"):
            check_profile_steps(args.steps)
        d = init_distributed(args.device)
        try:
            for cfg in variants:
                out = args.out / cfg.variant if len(variants) > 1 else args.out
                # as launched: `scaling-train ...` or `torchrun --nproc-per-node=N -m ...`
                command = receipt.command_line() if argv is None else ["scaling-train", *argv]
                out_root = args.out if len(variants) > 1 else None
                trace = args.profile / cfg.variant if args.profile and len(variants) > 1 else args.profile  # fmt: skip
                train_one(cfg, d, out, command=command, out_root=out_root, profile_dir=trace)
        except Diverged as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            if d.backend is not None and dist.is_initialized():
                dist.destroy_process_group()
        return 0

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
