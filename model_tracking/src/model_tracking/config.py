"""The settings of one `tracking-train` run: defaults, the checks made before any work, and the
command line that sets them.

Every check happens before the first byte is written: a typo should cost a second, not a run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from model_tracking.plumbing import (
    DEFAULT_TRACKING_URI,
    BadInput,
    check_out,
    check_tracking_uri,
    finite_float,
    parser_for,
)
from model_tracking.receipt import command_line

TRACKERS = ("none", "tensorboard", "mlflow", "wandb")
# What a run folder holds: an earlier run there (and nothing else) may be replaced by a new one.
RUN_FILES = (
    "run.json", "history.json", "model.safetensors", "model_summary.txt", "training_curve.png",
    "checkpoints", "tensorboard", "wandb",
)  # fmt: skip
__all__ = ["RUN_FILES", "TRACKERS", "TrainConfig", "build_parser", "config_from_args", "validate"]


@dataclass
class TrainConfig:
    epochs: int = 15
    lr: float = 0.01
    batch_size: int = 64
    hidden: int = 64
    seed: int = 0
    trackers: tuple[str, ...] = ("none",)
    out: Path = Path("outputs/train")
    tracking_uri: str = DEFAULT_TRACKING_URI
    experiment: str = "digits"
    register_as: str = ""  # only `tracking-compare` registers: the sweep's best, not every run
    wandb_mode: str = "offline"
    wandb_group: str | None = None  # runs of one sweep share a group (W&B's "grouping")
    run_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None  # as typed; None: the equivalent `tracking-train` line


def validate(config: TrainConfig) -> None:
    """Raise BadInput (one line, exit 2) for any setting the run could not use."""
    unknown = sorted(set(config.trackers) - set(TRACKERS))
    if unknown:
        raise BadInput(f"unknown tracker {unknown[0]!r}; choose from {', '.join(TRACKERS)}")
    if config.epochs < 1:
        raise BadInput(f"--epochs must be at least 1, got {config.epochs}")
    if not 0 < config.lr < 10:
        raise BadInput(f"--lr must be in (0, 10), got {config.lr}")
    if config.batch_size < 1 or config.hidden < 1:
        raise BadInput("--batch-size and --hidden must be positive")
    if not 0 <= config.seed < 2**32:  # the range torch and numpy accept as a seed
        raise BadInput(f"--seed must be in [0, 2**32), got {config.seed}")
    if config.wandb_mode not in ("offline", "online", "disabled"):
        raise BadInput(
            f"--wandb-mode must be offline, online or disabled, got {config.wandb_mode!r}"
        )
    if "mlflow" in config.trackers:
        if not config.experiment.strip():
            raise BadInput("--experiment must not be empty")
        check_tracking_uri(config.tracking_uri)
    check_out(config.out, replaceable=RUN_FILES)


def build_parser(doc: str | None = None) -> argparse.ArgumentParser:
    d = TrainConfig()
    p = parser_for(doc, prog="tracking-train")
    p.add_argument(
        "--tracker",
        nargs="+",
        action="extend",
        help=f"one or more of {', '.join(TRACKERS)} (space or comma separated; default none)",
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=finite_float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", type=Path, default=d.out, help="run folder (default %(default)s)")
    p.add_argument(
        "--tracking-uri", default=d.tracking_uri, help="MLflow store (default %(default)s)"
    )
    p.add_argument("--experiment", default=d.experiment, help="MLflow experiment name")
    p.add_argument(
        "--register-as", default=d.register_as, help="register the model under this name"
    )
    p.add_argument(
        "--wandb-mode", default=d.wandb_mode, help="offline (default), online or disabled"
    )
    p.add_argument("--wandb-group", default=None, help="W&B group (a sweep's runs share one)")
    p.add_argument("--run-name", default=None)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = [n.strip() for item in (args.tracker or ["none"]) for n in item.split(",") if n.strip()]
    return TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        hidden=args.hidden,
        seed=args.seed,
        trackers=tuple(dict.fromkeys(names)),
        out=args.out,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        register_as=args.register_as,
        wandb_mode=args.wandb_mode,
        wandb_group=args.wandb_group,
        run_name=args.run_name,
        command=command_line(),
    )
