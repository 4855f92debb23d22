"""What one run leaves behind, whichever tracker records it.

The hyperparameters every tool logs, the files every tool receives (curve, summary, weights,
history, run.json), the `tracking-train` line that repeats a run started from Python, and the
message that says where to look next.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file

from model_tracking.digits import SPLIT_SEED, model_summary
from model_tracking.mlflow_store import run_in_store
from model_tracking.plots import plot_training_curves
from model_tracking.provenance import scrub
from model_tracking.receipt import atomic_write, write_json_atomic, write_run_json

if TYPE_CHECKING:
    from model_tracking.config import TrainConfig
    from model_tracking.train import RunResult


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


def equivalent_command(config: TrainConfig) -> list[str]:
    """The `tracking-train` command that repeats a run started from Python (sweep, notebook)."""
    command = ["tracking-train", "--tracker", *config.trackers, "--seed", str(config.seed)]
    for option in ("epochs", "lr", "batch_size", "hidden"):
        command += [f"--{option.replace('_', '-')}", str(getattr(config, option))]
    if "mlflow" in config.trackers:
        command += ["--tracking-uri", config.tracking_uri, "--experiment", config.experiment]
    if "wandb" in config.trackers and config.wandb_mode != "offline":
        command += ["--wandb-mode", config.wandb_mode]
    if "wandb" in config.trackers and config.wandb_group:
        command += ["--wandb-group", config.wandb_group]
    if config.register_as:
        command += ["--register-as", config.register_as]
    if config.run_name:
        command += ["--run-name", config.run_name]
    return [*command, "--out", str(config.out)]


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
    summary = atomic_write(folder / "model_summary.txt", model_summary(model))
    checkpoint = folder / "model.safetensors"
    atomic_write(checkpoint, lambda tmp: save_file(model.state_dict(), tmp))
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
        uri, run_id = config.tracking_uri, where["mlflow"]["run_id"]
        # The UI shown opens this store: ask it for the run first (a UI opened on another
        # store shows an empty list, and nothing says why).
        run_in_store(uri, run_id)
        ui = uri if uri.startswith("http") else f"mlflow ui --backend-store-uri {uri}"
        lines.append(f"mlflow: run {run_id} in {uri}; UI: {ui}")
    if "wandb" in where:
        lines.append(
            f"wandb ({config.wandb_mode}): wandb sync {result.out / where['wandb']['run_dir']}"
        )
    return "\n".join(lines)
