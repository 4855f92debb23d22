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
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from model_tracking.cli import UsageError, check_tracking_uri, parser_for, run_command
from model_tracking.digits import (
    SPLIT_SEED,
    build_model,
    evaluate,
    load_digit_splits,
    model_summary,
    seed_everything,
    train_one_epoch,
)
from model_tracking.plots import plot_training_curves
from model_tracking.receipt import (
    command_line,
    data_sha256,
    weights_sha256,
    write_json_atomic,
    write_run_json,
)
from model_tracking.trackers import (
    DEFAULT_TRACKING_URI,
    TRACKERS,
    MlflowTracker,
    TensorBoardTracker,
    Tracker,
    WandbTracker,
    provenance,
    scrub,
)

EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
__all__ = ["EPOCH_METRICS", "RunResult", "TrainConfig", "UsageError", "main", "run_training"]


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


def equivalent_command(config: TrainConfig) -> list[str]:
    """The `tracking-train` command that repeats a run started from Python (sweep, notebook)."""
    command = ["tracking-train", "--tracker", *config.trackers, "--seed", str(config.seed)]
    for option in ("epochs", "lr", "batch_size", "hidden"):
        command += [f"--{option.replace('_', '-')}", str(getattr(config, option))]
    if "mlflow" in config.trackers:
        command += ["--tracking-uri", config.tracking_uri, "--experiment", config.experiment]
    if "wandb" in config.trackers and config.wandb_mode != "offline":
        command += ["--wandb-mode", config.wandb_mode]
    if config.register_as:
        command += ["--register-as", config.register_as]
    if config.run_name:
        command += ["--run-name", config.run_name]
    return [*command, "--out", str(config.out)]


@dataclass
class RunResult:
    out: Path
    history: dict[str, list[float]]
    metrics: dict[str, float]
    weights_sha256: str
    locations: dict[str, dict[str, str]]
    model: torch.nn.Module


def hyperparameters(config: TrainConfig) -> dict[str, Any]:
    """Everything that changes the numbers; logged as params in every tool."""
    return {
        "lr": config.lr,
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "hidden": config.hidden,
        "seed": config.seed,
        "split_seed": SPLIT_SEED,
        "optimizer": "Adam",
        "loss": "cross_entropy",
    }


# --------------------------------------------------------------------------------------------
# Check the input before any training: a typo should cost a second, not a whole run.


def validate(config: TrainConfig) -> None:
    unknown = sorted(set(config.trackers) - set(TRACKERS))
    if unknown:
        raise UsageError(f"unknown tracker {unknown[0]!r}; choose from {', '.join(TRACKERS)}")
    if config.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {config.epochs}")
    if not 0 < config.lr < 10:
        raise UsageError(f"--lr must be in (0, 10), got {config.lr}")
    if config.batch_size < 1 or config.hidden < 1:
        raise UsageError("--batch-size and --hidden must be positive")
    if not 0 <= config.seed < 2**32:  # the range torch and numpy accept as a seed
        raise UsageError(f"--seed must be in [0, 2**32), got {config.seed}")
    if config.wandb_mode not in ("offline", "online", "disabled"):
        raise UsageError(
            f"--wandb-mode must be offline, online or disabled, got {config.wandb_mode!r}"
        )
    if "mlflow" in config.trackers:
        if not config.experiment.strip():
            raise UsageError("--experiment must not be empty")
        check_tracking_uri(config.tracking_uri)


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


def relative_to(location: dict[str, str], folder: Path) -> dict[str, str]:
    """Paths inside the run folder are stored relative to it, so the folder can be moved."""
    out = {}
    for key, value in location.items():
        path = Path(value)
        out[key] = str(path.relative_to(folder)) if path.is_relative_to(folder) else value
    return out


def write_run_files(
    folder: Path,
    config: TrainConfig,
    model: torch.nn.Module,
    history: dict[str, list[float]],
    metrics: dict[str, float],
    weights_hash: str,
    data_hash: str,
    locations: dict[str, dict[str, str]],
    started: float,
) -> list[Path]:
    """The files every tracker receives as artifacts (and the naive tracker's whole record)."""
    curve = plot_training_curves(
        history, folder / "training_curve.png", title=f"lr={config.lr} seed={config.seed}"
    )
    summary = folder / "model_summary.txt"
    summary.write_text(model_summary(model))
    checkpoint = folder / "model.safetensors"
    save_file(model.state_dict(), checkpoint)
    history_file = folder / "history.json"
    write_json_atomic(history_file, history)
    receipt = write_run_json(
        folder,
        seed=config.seed,
        config=scrub(
            {
                **hyperparameters(config),
                "trackers": list(config.trackers),
                "tracking_uri": config.tracking_uri if "mlflow" in config.trackers else None,
                "tracked_in": locations,
            }
        ),
        metrics=metrics,
        weights_sha256=weights_hash,
        data_sha256=data_hash,
        started=started,
        command=scrub(config.command or equivalent_command(config)),
        weights_file=checkpoint,  # lets `receipt compare` measure max |Δw| between two runs
    )
    return [curve, summary, checkpoint, history_file, receipt]


def run_training(config: TrainConfig) -> RunResult:
    """Validate, train, record with every chosen tracker, and publish `config.out` at the end."""
    started = time.time()
    validate(config)
    generator = seed_everything(config.seed)
    data = load_digit_splits()
    data_hash = data_sha256(*data.arrays())
    params = hyperparameters(config)
    tags = scrub({**provenance(data_hash), **config.extra_tags})
    # The run name is shown and stored by every tool: a token pasted into it must not be.
    run_name = scrub(config.run_name or f"lr{config.lr}-seed{config.seed}")
    splits = {
        "training": (data.x_train, data.y_train),
        "validation": (data.x_val, data.y_val),
        "testing": (data.x_test, data.y_test),
    }

    # Work in a side folder and rename it at the end: a failed run leaves no half-written output.
    out = Path(config.out)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
    except OSError as exc:  # e.g. a file where a folder should be, or no permission
        raise UsageError(f"cannot create the run folder {out}: {exc.strerror}") from None
    trackers = make_trackers(config, staging)
    locations: dict[str, dict[str, str]] = {}
    opened: list[Tracker] = []  # only these are closed if something fails
    ok = False
    try:
        for tracker in trackers:
            locations[tracker.name] = relative_to(tracker.start(run_name, params, tags), staging)
            opened.append(tracker)
            tracker.log_datasets(splits)
        checkpoints = staging / "checkpoints"
        checkpoints.mkdir()
        model = build_model(config.hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        history: dict[str, list[float]] = {key: [] for key in EPOCH_METRICS}
        for epoch in tqdm(range(1, config.epochs + 1), desc=run_name, unit="epoch", disable=None):
            train_loss, train_acc = train_one_epoch(
                model, optimizer, data.x_train, data.y_train, config.batch_size, generator
            )
            val_loss, val_acc = evaluate(model, data.x_val, data.y_val)
            metrics = dict(
                zip(EPOCH_METRICS, (train_loss, train_acc, val_loss, val_acc), strict=True)
            )
            for key, value in metrics.items():
                history[key].append(value)
            # Every epoch's weights: a later question ("was epoch 9 better?") needs no re-run.
            checkpoint = checkpoints / f"epoch-{epoch:03d}.safetensors"
            save_file(model.state_dict(), checkpoint)
            for tracker in trackers:
                tracker.log_epoch(epoch, metrics)
                tracker.log_checkpoint(epoch, checkpoint)

        # Select models on validation data only; the test accuracy is reported, never chosen on.
        final = {
            "final_val_accuracy": metrics["val_accuracy"],
            "test_accuracy": evaluate(model, data.x_test, data.y_test)[1],
        }
        weights_hash = weights_sha256(model.state_dict())
        files = write_run_files(
            staging,
            config,
            model,
            history,
            {**metrics, **final},
            weights_hash,
            data_hash,
            locations,
            started,
        )
        for tracker in trackers:
            tracker.log_model(model, data.x_test)
            tracker.log_final(final)
            tracker.log_files(files)
        ok = True
    finally:
        for tracker in opened:
            tracker.finish(ok)
        if not ok:
            shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    staging.replace(out)
    return RunResult(out, history, {**metrics, **final}, weights_hash, locations, model)


# --------------------------------------------------------------------------------------------
# Command line.


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = parser_for(__doc__)
    p.add_argument(
        "--tracker",
        nargs="+",
        action="extend",
        help=f"one or more of {', '.join(TRACKERS)} (space or comma separated; default none)",
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.lr)
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


def report(result: RunResult, config: TrainConfig) -> str:
    """What to look at next, one line per tracker."""
    lines = [
        f"test accuracy {result.metrics['test_accuracy']:.3f} | "
        f"weights_sha256 {result.weights_sha256[:16]}... | receipt {result.out / 'run.json'}",
        f"none: {result.out}/history.json and {result.out}/training_curve.png",
    ]
    where = result.locations
    if "tensorboard" in where:
        lines.append(
            f"tensorboard: tensorboard --logdir {result.out / where['tensorboard']['logdir']}"
        )
    if "mlflow" in where:
        uri = config.tracking_uri
        ui = uri if uri.startswith("http") else f"mlflow ui --backend-store-uri {uri}"
        lines.append(f"mlflow: run {where['mlflow']['run_id']} in {uri}; UI: {ui}")
    if "wandb" in where:
        lines.append(
            f"wandb ({config.wandb_mode}): wandb sync {result.out / where['wandb']['run_dir']}"
        )
    return "\n".join(lines)


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

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
