"""What shapes a training run: `TrainConfig` (it goes into run.json whole) and the command line
of `scaling-train` that fills it. The training itself is in train.py."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from scaling_multi_gpu.plumbing import (
    BadInput,
    OneLineParser,
    finite_float,
    require_positive,
    seed_int,
)
from scaling_multi_gpu.strategies import load_deepspeed_config


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
            name = f"zero{load_deepspeed_config(self).get('zero_optimization', {}).get('stage', 0)}"
        if self.grad_accum > 1:
            name += f"-accum{self.grad_accum}"
        return name if self.loss_reduction == "mean" else f"{name}-{self.loss_reduction}"


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = OneLineParser(
        description="One training loop, several strategies: single | dp | ddp | fsdp | deepspeed (ZeRO 1/2/3)."
    )
    # fmt: off
    p.add_argument("--strategy", default="single", help="single|dp|ddp|fsdp|deepspeed|zero1|zero2|zero3, comma-separated for several in one launch; zero<n> = deepspeed with configs/zero<n>.json; a ':sum' suffix (ddp:sum) = that strategy with a summed loss at lr / global batch, the DDP bug of equivalence.py")
    p.add_argument("--deepspeed-config", default=None, help="ZeRO JSON config for --strategy deepspeed (default configs/zero2.json)")
    p.add_argument("--loss-reduction", choices=("mean", "sum"), default=d.loss_reduction)
    p.add_argument("--seed", type=seed_int, default=d.seed)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--global-batch", type=int, default=d.global_batch)
    p.add_argument("--grad-accum", type=int, default=d.grad_accum, help="micro-batches per optimizer step (DDP: no_sync until the last)")
    p.add_argument("--lr", type=finite_float, default=d.lr)
    p.add_argument("--momentum", type=finite_float, default=d.momentum)
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
    p.add_argument("--profile", type=Path, default=None, metavar="DIR", help="torch.profiler trace of a few steps per rank into DIR (read it with scaling-profile-report DIR)")
    # fmt: on
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    require_positive(steps=args.steps, global_batch=args.global_batch, grad_accum=args.grad_accum)
    require_positive(lr=args.lr, n_samples=args.n_samples, image_size=args.image_size)
    require_positive(num_classes=args.num_classes)
    if args.momentum < 0 or args.num_workers < 0:
        raise BadInput("--momentum and --num-workers must be 0 or more")
    if args.data == "cifar100":
        args.num_classes = 100
    return TrainConfig(
        **{
            k: v
            for k, v in vars(args).items()
            if k in TrainConfig.__dataclass_fields__ and k != "strategy"
        }
    )
