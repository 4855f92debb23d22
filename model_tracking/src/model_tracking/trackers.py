"""Four ways to record one training run, behind one small interface.

Every backend receives exactly the same things - hyperparameters (`params`), provenance
(`tags`: git commit, lockfile hash, data hash, package versions), per-epoch metrics, final
metrics, files (curve, summary, checkpoint, run.json) and the model - so the tests can read
each tool back and compare. `none` is the naive approach: nothing but the Python lists the
training loop keeps anyway and the files written next to them.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model_tracking.provenance import scrubbed_argv
from model_tracking.receipt import data_sha256

TRACKERS = ("none", "tensorboard", "mlflow", "wandb")
__all__ = ["TRACKERS", "Tracker"]

# --------------------------------------------------------------------------------------------
# The interface. Subclasses override what their tool can store.


class Tracker:
    """Base class: a tracker that records nothing (the training loop's lists are the record)."""

    name = "none"

    def start(self, run_name: str, params: dict[str, Any], tags: dict[str, str]) -> dict[str, str]:
        """Open the run; return where to find it (shown in run.json and the final message)."""
        return {}

    def log_datasets(self, splits: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Which data the run saw: one (features, labels) pair per split, named by its role."""

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Per-epoch series: train/val loss and accuracy, with the epoch as the step."""

    def log_checkpoint(self, epoch: int, path: Path) -> None:
        """The weights after this epoch (a safetensors file), so any epoch can be restored."""

    def log_model(self, model: torch.nn.Module, x_example: torch.Tensor) -> None:
        """The trained model itself, where the tool has a notion of models."""

    def log_final(self, metrics: dict[str, float]) -> None:
        """Single numbers for the whole run (test accuracy)."""

    def log_files(self, paths: list[Path]) -> None:
        """Artifacts: training curve, model summary, checkpoint, run.json."""

    def finish(self, ok: bool = True) -> None:
        """Close the run (marked failed when training raised)."""


class TensorBoardTracker(Tracker):
    """Event files in `<out>/tensorboard`: scalars, hparams, text, an image and the graph."""

    name = "tensorboard"

    def __init__(self, logdir: Path):
        self.logdir = Path(logdir)

    def start(self, run_name, params, tags):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.logdir))
        self.params = params
        table = "\n".join(f"| {k} | {v} |" for k, v in tags.items())
        self.writer.add_text("provenance", "| tag | value |\n|---|---|\n" + table)
        return {"logdir": str(self.logdir)}

    def log_epoch(self, epoch, metrics):
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)

    def log_model(self, model, x_example):
        with warnings.catch_warnings():  # add_graph traces with torch.jit, which warns it is old
            warnings.simplefilter("ignore", FutureWarning)
            self.writer.add_graph(model, x_example[:1])

    def log_final(self, metrics):
        # hparams link the run's settings to its results in TensorBoard's HParams tab.
        # run_name="." keeps them in this run's folder instead of a new timestamped one.
        self.writer.add_hparams(self.params, metrics, run_name=".")

    def log_files(self, paths):
        # TensorBoard has no artifact store: images go in as images, files are kept beside.
        import matplotlib.image

        for path in paths:
            if path.suffix == ".png":
                self.writer.add_image(path.stem, matplotlib.image.imread(path), dataformats="HWC")
            shutil.copy2(path, self.logdir / path.name)

    def finish(self, ok=True):
        self.writer.close()


class MlflowTracker(Tracker):
    """A run in an MLflow store: params, tags, metric history, artifacts and a logged model."""

    name = "mlflow"

    def __init__(self, tracking_uri: str, experiment: str, register_as: str | None = None):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.register_as = register_as or None
        self.model_id: str | None = None

    def start(self, run_name, params, tags):
        import mlflow

        # We pass pip_requirements ourselves; MLflow's note that pip itself is missing is noise.
        logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
        mlflow.set_tracking_uri(self.tracking_uri)
        experiment_id = ensure_experiment(self.tracking_uri, self.experiment)
        self.run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
        mlflow.log_params(params)
        return {
            "tracking_uri": self.tracking_uri,
            "experiment_id": experiment_id,
            "run_id": self.run.info.run_id,
        }

    def log_datasets(self, splits):
        import mlflow

        for context, (x, y) in splits.items():
            # MLflow's digest hashes only the first 10,000 values (and the shape); the input
            # tag carries the receipt-style sha256 over every byte of this split.
            dataset = mlflow.data.from_numpy(x.numpy(), targets=y.numpy(), name=f"digits-{context}")
            mlflow.log_input(dataset, context=context, tags={"sha256": data_sha256(x, y)})

    def log_epoch(self, epoch, metrics):
        import mlflow

        mlflow.log_metrics(metrics, step=epoch)

    def log_checkpoint(self, epoch, path):
        import mlflow

        mlflow.log_artifact(str(path), artifact_path="checkpoints")

    def log_model(self, model, x_example):
        import mlflow
        from mlflow.models import infer_signature

        x = x_example[:5].numpy()
        with torch.no_grad():
            y = model(x_example[:5]).numpy()
        info = mlflow.pytorch.log_model(
            model,
            name="model",
            # The signature records input/output shapes and dtypes; the example shows a caller
            # what to send. Explicit requirements avoid a slow, guessy environment inference.
            signature=infer_signature(x, y),
            input_example=x,
            pip_requirements=model_requirements(),
            # pt2 = torch.export: a traced graph plus weights, loaded without unpickling code.
            serialization_format="pt2",
            registered_model_name=self.register_as,
        )
        self.model_id = info.model_id
        self.model_uri = info.model_uri

    def log_final(self, metrics):
        import mlflow

        # Linking the final metrics to the logged model lets `search_logged_models` rank models.
        mlflow.log_metrics(metrics, model_id=self.model_id)

    def log_files(self, paths):
        import mlflow

        for path in paths:
            mlflow.log_artifact(str(path))

    def finish(self, ok=True):
        import mlflow

        mlflow.end_run(status="FINISHED" if ok else "FAILED")


def model_requirements() -> list[str]:
    """Pinned requirements for the logged model (the '+cu…' local version tag is not on PyPI)."""
    return [
        f"torch=={torch.__version__.split('+')[0]}",
        f"numpy=={np.__version__}",
        f"mlflow=={importlib.metadata.version('mlflow')}",
    ]


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """Experiment id by name; new experiments on a sqlite store keep artifacts beside the .db."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        # Without this MLflow would put artifacts in ./mlruns of whatever folder you ran from.
        db = Path(tracking_uri.removeprefix("sqlite:///")).resolve()
        location = (db.parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


class WandbTracker(Tracker):
    """A W&B run in offline mode by default: everything lands in `<out>/wandb/offline-run-*`."""

    name = "wandb"

    def __init__(self, out_dir: Path, project: str = "model-tracking", mode: str = "offline"):
        self.out_dir = Path(out_dir)
        self.project = project
        self.mode = mode

    def start(self, run_name, params, tags):
        import wandb

        with scrubbed_argv():  # W&B stores sys.argv in the run's metadata
            self.run = wandb.init(
                project=self.project,
                name=run_name,
                dir=str(self.out_dir),
                mode=self.mode,
                config={**params, "provenance": tags},
                settings=wandb.Settings(silent=True),
            )
        self.final: dict[str, float] = {}
        return {"mode": self.mode, "run_dir": str(Path(self.run.dir).parent)}

    def log_epoch(self, epoch, metrics):
        self.run.log(metrics, step=epoch)

    def log_checkpoint(self, epoch, path):
        import wandb

        # One artifact name, a new version per epoch: W&B keeps the history and the aliases
        # say which is which ("latest" moves along by itself).
        checkpoint = wandb.Artifact(
            "digits-mlp-checkpoint", type="model", metadata={"epoch": epoch}
        )
        checkpoint.add_file(str(path))
        self.run.log_artifact(checkpoint, aliases=[f"epoch-{epoch}"])

    def log_final(self, metrics):
        self.run.summary.update(metrics)
        self.final = dict(metrics)

    def log_files(self, paths):
        import wandb

        # An artifact, not copies in the run folder: each file is hashed into a manifest and
        # staged (in WANDB_DATA_DIR) for `wandb sync`, and the version can be used by later runs.
        files = wandb.Artifact("digits-mlp", type="model", metadata=self.final)
        for path in paths:
            files.add_file(str(path))
        self.run.log_artifact(files)

    def finish(self, ok=True):
        from model_tracking.readback import wandb_records

        self.run.finish(exit_code=0 if ok else 1)
        # Publish the run folder only once W&B's service has written the whole run file.
        for run_file in Path(self.run.dir).parent.glob("run-*.wandb"):  # none when disabled
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # only a wait
                wandb_records(run_file, wait_s=60)
