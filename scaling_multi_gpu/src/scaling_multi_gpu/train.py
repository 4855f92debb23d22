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

import argparse
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# cuBLAS needs this set before CUDA initialises to be deterministic (harmless on CPU).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset
from tqdm import tqdm

from scaling_multi_gpu import receipt
from scaling_multi_gpu.cli import UsageError, run_cli
from scaling_multi_gpu.data import cifar100, dataset_tensors, synthetic_images
from scaling_multi_gpu.flops import train_flops_per_sample
from scaling_multi_gpu.measure import (
    gather,
    reset_peak_memory,
    summary_line,
    sync,
    throughput_metrics,
)
from scaling_multi_gpu.models import build_model
from scaling_multi_gpu.strategies import (
    Dist,
    full_state_dict,
    grad_sync,
    init_distributed,
    load_deepspeed_config,
    parse_variants,
    wrap_model,
)

__all__ = ["Dist", "TrainConfig", "evaluate", "make_datasets", "parse_variants", "train_one"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes the trained weights (and goes into run.json)."""

    strategy: str = "single"
    loss_reduction: str = "mean"  # "sum" is the classic bug under DDP: see equivalence.py
    deepspeed_config: str | None = None
    seed: int = 0
    steps: int = 40  # optimizer steps
    global_batch: int = 64  # per optimizer step, over all ranks and micro-steps
    grad_accum: int = 1  # micro-batches per optimizer step: local batch = global / world / this
    lr: float = 0.05
    momentum: float = 0.0
    model: str = "small"
    data: str = "synthetic"
    n_samples: int = 2048
    image_size: int = 32
    num_classes: int = 10
    precision: str = "fp32"
    tf32: str = "default"  # default: PyTorch's (cuDNN convolutions may use TF32, matmuls not)
    sync_bn: bool = False
    num_workers: int = 0
    deterministic: bool = True

    @property
    def variant(self) -> str:
        """Folder name of this run: the strategy, plus the loss reduction when it is not mean."""
        name = self.strategy
        if self.strategy == "deepspeed":
            name = f"zero{load_deepspeed_config(self)['zero_optimization'].get('stage', 0)}"
        if self.grad_accum > 1:
            name += f"-accum{self.grad_accum}"
        return name if self.loss_reduction == "mean" else f"{name}-{self.loss_reduction}"


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


# --------------------------------------------------------------------------- data and evaluation
def make_datasets(cfg: TrainConfig):
    if cfg.data == "synthetic":
        # One generator for train and test: same class templates, fresh noise for the 512 test images.
        full = synthetic_images(cfg.n_samples + 512, cfg.num_classes, cfg.image_size, seed=cfg.seed)
        images, labels = full.tensors
        train = TensorDataset(images[: cfg.n_samples], labels[: cfg.n_samples])
        return train, TensorDataset(images[cfg.n_samples :], labels[cfg.n_samples :])
    if cfg.data == "cifar100":
        root = Path(os.environ.get("DATA_DIR", "data"))
        return cifar100(root, cfg.image_size, train=True), cifar100(root, cfg.image_size, False)
    raise UsageError(f"unknown data {cfg.data!r} (choose synthetic or cifar100)")


def evaluate(
    state: dict[str, torch.Tensor], cfg: TrainConfig, test_set, d: Dist | None = None
) -> float:
    """Accuracy of the gathered weights on held-out data, in a fresh unwrapped model ON THE DEVICE.

    Every rank scores its own slice of the test set and the counts are summed: nobody waits in a
    barrier while one rank evaluates alone (on the CPU, for ResNet-152 at 224 px, for minutes).
    """
    device = d.device if d else torch.device("cpu")
    model = build_model(cfg.model, cfg.num_classes, cfg.image_size, cfg.seed).to(device)
    model.load_state_dict(state)
    model.eval()
    rank, world = (d.rank, d.world) if d and d.backend else (0, 1)
    counts = torch.zeros(2, dtype=torch.int64, device=device)  # correct, total
    with torch.no_grad():
        for x, y in DataLoader(Subset(test_set, range(rank, len(test_set), world)), batch_size=256):
            x, y = x.to(device), y.to(device)
            counts += torch.stack(
                [(model(x).argmax(1) == y).sum(), torch.tensor(len(y), device=device)]
            )
    if d and d.backend:
        dist.all_reduce(counts)
    return counts[0].item() / counts[1].item()


# --------------------------------------------------------------------------- the loop
# What throughput_metrics measures about the machine: reported in run.json, never judged.
MEASURED = ("samples_per_s", "step_time_s", "peak_memory_mib_per_rank", "mfu")
MEASURED += ("achieved_tflops_per_device", "peak_tflops_per_device")


def train_one(
    cfg: TrainConfig,
    d: Dist,
    out_dir: Path,
    command: list[str] | None = None,
    out_root: Path | None = None,
) -> dict:
    """Train one strategy from scratch; rank 0 writes run.json and weights.pt into out_dir."""
    started = time.time()
    if cfg.strategy in ("single", "dp") and d.world > 1:
        raise UsageError(f"--strategy {cfg.strategy} runs in one process: launch without torchrun")
    if cfg.strategy in ("ddp", "fsdp", "deepspeed") and d.backend is None:
        raise UsageError(f"--strategy {cfg.strategy} needs a process group: launch with torchrun")
    if cfg.global_batch % (d.world * cfg.grad_accum):
        raise UsageError(f"--global-batch {cfg.global_batch} is not divisible by world size {d.world} x --grad-accum {cfg.grad_accum}")  # fmt: skip
    if cfg.grad_accum > 1 and cfg.loss_reduction == "sum":
        raise UsageError("--grad-accum needs the mean loss (a summed loss is the DDP bug lesson)")
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
    module, optimizer, engine = wrap_model(model, cfg, d, micro_batch)
    if d.device.type == "cuda":
        reset_peak_memory([d.device])

    # One seeded permutation per epoch, sliced per rank: together the ranks see exactly the
    # global batch a single process would see. set_epoch() reshuffles; forgetting it repeats order.
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
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    # A mean loss over a micro-batch, divided by the micro-steps, adds up to the mean over the batch.
    # DeepSpeed's engine divides by its gradient_accumulation_steps itself.
    divide = cfg.grad_accum if engine is None else 1

    step_times, losses, step, epoch = [], [], 0, 0
    progress = tqdm(
        total=cfg.steps, desc=f"{cfg.variant} x{d.world}", disable=d.rank != 0, leave=False
    )
    while step < cfg.steps:
        sampler.set_epoch(epoch)
        for x, y in loader:
            if step == cfg.steps:
                break
            sync(d.device)
            t0 = time.perf_counter()
            x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
            if engine is None:
                optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for i, (xm, ym) in enumerate(
                zip(x.chunk(cfg.grad_accum), y.chunk(cfg.grad_accum), strict=True)
            ):
                with grad_sync(module, last_micro_step=i == cfg.grad_accum - 1):
                    with autocast:
                        loss = F.cross_entropy(module(xm), ym, reduction=cfg.loss_reduction)
                        loss = loss / divide
                    if engine is not None:
                        engine.backward(loss)
                        engine.step()  # steps the optimizer only at the accumulation boundary
                    else:
                        loss.backward()  # adds into p.grad; DDP all-reduces on the last one
                step_loss += loss.item() * divide / cfg.grad_accum
            if engine is None:
                optimizer.step()
            sync(d.device)
            step_times.append(time.perf_counter() - t0)
            losses.append(step_loss)
            step += 1
            progress.update()
        epoch += 1
    progress.close()

    state = full_state_dict(module, cfg)
    metrics = throughput_metrics(cfg, d, flops_per_sample, step_times)
    metrics["final_loss"] = statistics.fmean(gather(statistics.fmean(losses[-5:]), d))
    metrics["test_accuracy"] = evaluate(state, cfg, test_set, d)  # every rank, on its device
    sha = receipt.weights_sha256(state)
    if d.rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / ".weights.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, out_dir / "weights.pt")
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
            weights_file=out_dir / "weights.pt",
            out_root=out_root,
        )
        print(summary_line(cfg.variant, metrics, sha), flush=True)
    if engine is not None:
        engine.destroy()
    if d.backend is not None:
        dist.barrier()
    return {"variant": cfg.variant, "metrics": metrics, "weights_sha256": sha}


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # fmt: off
    p.add_argument("--strategy", default="single", help="single|dp|ddp|fsdp|deepspeed|zero1|zero2|zero3, comma-separated for several in one launch; ':sum' suffix = sum-reduced loss")
    p.add_argument("--deepspeed-config", default=None, help="ZeRO JSON config for --strategy deepspeed (default configs/zero2.json)")
    p.add_argument("--loss-reduction", choices=("mean", "sum"), default=d.loss_reduction)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--global-batch", type=int, default=d.global_batch)
    p.add_argument("--grad-accum", type=int, default=d.grad_accum, help="micro-batches per optimizer step (DDP: no_sync until the last)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--model", choices=("small", "resnet152"), default=d.model)
    p.add_argument("--data", choices=("synthetic", "cifar100"), default=d.data)
    p.add_argument("--n-samples", type=int, default=d.n_samples, help="synthetic training images")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--num-classes", type=int, default=d.num_classes)
    p.add_argument("--precision", choices=("fp32", "bf16"), default=d.precision)
    p.add_argument("--tf32", choices=("default", "on", "off"), default=d.tf32, help="TF32 on GPU for matmuls and convolutions (default: PyTorch's, convolutions only)")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm: BatchNorm statistics over the global batch (GPU; ddp, fsdp)")
    p.add_argument("--num-workers", type=int, default=d.num_workers)
    p.add_argument("--no-deterministic", dest="deterministic", action="store_false", help="speed runs: cudnn.benchmark on, nondeterministic kernels allowed")
    p.add_argument("--device", choices=("auto", "cpu"), default="auto", help="auto: GPU + nccl when present, else CPU + gloo")
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)  # deepspeed launcher
    p.add_argument("--out", type=Path, default=Path("outputs/train"))
    # fmt: on
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if args.steps < 1 or args.global_batch < 1 or args.lr <= 0 or args.grad_accum < 1:
        raise UsageError("--steps, --global-batch, --grad-accum and --lr must be positive")
    if args.data == "cifar100":
        args.num_classes = 100
    return TrainConfig(
        **{
            k: v
            for k, v in vars(args).items()
            if k in TrainConfig.__dataclass_fields__ and k != "strategy"
        }
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        base = config_from_args(args)
        variants = parse_variants(args.strategy, base)
        d = init_distributed(args.device)
        try:
            for cfg in variants:
                out = args.out / cfg.variant if len(variants) > 1 else args.out
                train_one(
                    cfg,
                    d,
                    out,
                    # as launched: `scaling-train ...` or `torchrun --nproc-per-node=N -m ...`
                    command=receipt.command_line() if argv is None else ["scaling-train", *argv],
                    out_root=args.out if len(variants) > 1 else None,
                )
        finally:
            if d.backend is not None and dist.is_initialized():
                dist.destroy_process_group()

    return run_cli(body)


if __name__ == "__main__":
    raise SystemExit(main())
