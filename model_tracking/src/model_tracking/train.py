"""Train the digits classifier once and record the run with the tracker(s) you choose.

    tracking-train --tracker mlflow                       # local store ./mlflow.db
    tracking-train --tracker none tensorboard mlflow wandb --seed 1

Whatever the tracker, the same things are recorded: hyperparameters, per-epoch train and
validation loss/accuracy, provenance (git commit and dirty flag, uv.lock hash, data hash,
package versions, seed) and files (training curve, model summary, checkpoint, run.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from model_tracking.digits import (
    build_model,
    evaluate,
    load_digit_splits,
    seed_everything,
    train_one_epoch,
)
from model_tracking.plumbing import (
    DEFAULT_TRACKING_URI,
    BadInput,
    check_out,
    check_tracking_uri,
    finite_float,
    parser_for,
    publish,
    run_at_edge,
)
from model_tracking.provenance import provenance, scrub
from model_tracking.receipt import command_line, data_sha256, weights_sha256
from model_tracking.run_record import hyperparameters, relative_to, report, write_run_files
from model_tracking.trackers import (
    TRACKERS,
    MlflowTracker,
    TensorBoardTracker,
    Tracker,
    WandbTracker,
)

EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
# What a run folder holds: an earlier run there (and nothing else) may be replaced by a new one.
RUN_FILES = (
    "run.json", "history.json", "model.safetensors", "model_summary.txt", "training_curve.png",
    "checkpoints", "tensorboard", "wandb",
)  # fmt: skip
__all__ = ["EPOCH_METRICS", "BadInput", "RunResult", "TrainConfig", "main", "run_training"]


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
    run_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None  # as typed; None: the equivalent `tracking-train` line


@dataclass
class RunResult:
    out: Path
    history: dict[str, list[float]]
    metrics: dict[str, float]
    weights_sha256: str
    locations: dict[str, dict[str, str]]
    model: torch.nn.Module


# --------------------------------------------------------------------------------------------
# Check the input before any training: a typo should cost a second, not a whole run.


def validate(config: TrainConfig) -> None:
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


# --------------------------------------------------------------------------------------------
# The run itself.


def make_trackers(config: TrainConfig, folder: Path) -> list[Tracker]:
    trackers: list[Tracker] = []
    if "tensorboard" in config.trackers:
        trackers.append(TensorBoardTracker(folder / "tensorboard"))
    if "mlflow" in config.trackers:
        trackers.append(MlflowTracker(config.tracking_uri, config.experiment, config.register_as))
    if "wandb" in config.trackers:
        trackers.append(WandbTracker(folder, mode=config.wandb_mode))
    return trackers


def run_training(config: TrainConfig) -> RunResult:
    """Validate, train, record with every chosen tracker, and publish `config.out` at the end."""
    started = time.time()
    validate(config)  # every check before the first byte is written
    generator = seed_everything(config.seed)
    data = load_digit_splits()
    data_hash = data_sha256(*data.arrays())
    # The run name is shown and stored by every tool: a token pasted into it must not be.
    run_name = scrub(config.run_name or f"lr{config.lr}-seed{config.seed}")

    # Work in a fresh side folder, renamed to --out at the end: --out never holds half a run.
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.partial-"))
    trackers = make_trackers(config, staging)
    opened: list[Tracker] = []  # only these are closed if something fails
    ok = False
    try:
        locations = {}
        tags = scrub({**provenance(data_hash), **config.extra_tags})
        for tracker in trackers:
            location = tracker.start(run_name, hyperparameters(config), tags)
            locations[tracker.name] = relative_to(location, staging)
            opened.append(tracker)
            tracker.log_datasets(data.named_splits())
        model, history = train_epochs(config, data, generator, trackers, staging, run_name)
        metrics = {key: values[-1] for key, values in history.items()}
        # Select models on validation data only; the test accuracy is reported, never chosen on.
        final = {
            "final_val_accuracy": metrics["val_accuracy"],
            "test_accuracy": evaluate(model, data.x_test, data.y_test)[1],
        }
        weights_hash = weights_sha256(model.state_dict())
        files = write_run_files(
            staging, config, model, history, {**metrics, **final}, weights_hash, data_hash,
            locations, started,
        )  # fmt: skip
        for tracker in trackers:
            tracker.log_model(model, data.x_test)
            tracker.log_final(final)
            tracker.log_files(files)
        ok = True
    except BaseException as exc:
        # A crash (or Ctrl-C) during the work is not bad input: keep the epochs trained so far.
        exc.add_note(
            f"the partial run, checkpoints of each finished epoch included, is in {staging}"
        )
        raise
    finally:
        for tracker in opened:
            tracker.finish(ok)
    publish(staging, out, replaceable=RUN_FILES)
    return RunResult(out, history, {**metrics, **final}, weights_hash, locations, model)


def train_epochs(config, data, generator, trackers, folder, run_name):
    """The training loop: every epoch's numbers and weights go to every tracker."""
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir()
    model = build_model(config.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {key: [] for key in EPOCH_METRICS}
    for epoch in tqdm(range(1, config.epochs + 1), desc=run_name, unit="epoch", disable=None):
        train_loss, train_acc = train_one_epoch(
            model, optimizer, data.x_train, data.y_train, config.batch_size, generator
        )
        val_loss, val_acc = evaluate(model, data.x_val, data.y_val)
        metrics = dict(zip(EPOCH_METRICS, (train_loss, train_acc, val_loss, val_acc), strict=True))
        for key, value in metrics.items():
            history[key].append(value)
        # Every epoch's weights: a later question ("was epoch 9 better?") needs no re-run.
        checkpoint = checkpoints / f"epoch-{epoch:03d}.safetensors"
        save_file(model.state_dict(), checkpoint)
        for tracker in trackers:
            tracker.log_epoch(epoch, metrics)
            tracker.log_checkpoint(epoch, checkpoint)
    return model, history


# --------------------------------------------------------------------------------------------
# Command line.


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = parser_for(__doc__, prog="tracking-train")
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
        run_name=args.run_name,
        command=command_line(),
    )


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(build_parser().parse_args(argv))

    def body() -> int:
        result = run_training(config)
        print(report(result, config))
        # The benchmark of the headline demo: wall time as run.json records it (imports excluded);
        # printed, never asserted, because it depends on the machine and its load.
        seconds = json.loads((result.out / "run.json").read_text())["seconds"]
        print(f"took {seconds:.1f} s (run.json: seconds)")
        print(json.dumps({"weights_sha256": result.weights_sha256, **result.metrics}))
        return 0

    return run_at_edge(body, prog="tracking-train")


if __name__ == "__main__":
    sys.exit(main())
