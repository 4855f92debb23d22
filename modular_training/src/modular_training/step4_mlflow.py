"""Step 4 - the step-3 run, tracked in MLflow on a local sqlite file, then found again by search.

Nothing about the model changes: we hand the Trainer an `MLFlowLogger`. It records the model's
hyperparameters and the per-epoch metrics; we add the resolved config as parameters, and the
config file, the checkpoints and the run receipt as artifacts, so the MLflow run alone is enough
to trace and re-check the result. `run_autologged` shows the other way: no logger in our code,
`mlflow.pytorch.autolog()` patches `Trainer.fit` and records what it can see by itself.
Offline by default: `sqlite:///mlflow.db` is a file; point --tracking_uri at a server to share.

Run:  uv run mt-mlflow                      (then: uv run mlflow ui --backend-store-uri sqlite:///mlflow.db)
      uv run mt-mlflow --seed_everything 1 --trainer.max_epochs 5
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pytorch
import pandas as pd
import yaml
from lightning.pytorch.loggers import MLFlowLogger

from modular_training.plumbing import (
    BadInput,
    OneLineParser,
    check_out,
    quiet_known_warnings,
    run_at_edge,
)
from modular_training.receipt import command_line
from modular_training.step3_cli import train

EXPERIMENT = "modular-training-digits"


def artifact_root_for(tracking_uri: str) -> str | None:
    """Keep artifacts beside a sqlite file (`mlartifacts/`), not in whatever folder we were started from."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///")).resolve()
        return (db.parent / "mlartifacts").as_uri()
    return None  # a server decides where artifacts go


def check_tracking_uri(tracking_uri: str) -> None:
    """Before any training: a URI without a scheme, or a sqlite file that cannot be created."""
    if "://" not in tracking_uri:
        raise BadInput(
            f"--tracking_uri needs a scheme, e.g. sqlite:///mlflow.db, got {tracking_uri!r}"
        )
    if tracking_uri.startswith("sqlite:///"):
        db = tracking_uri.removeprefix("sqlite:///")
        if not db or db.endswith("/"):
            raise BadInput(f"--tracking_uri {tracking_uri}: names no database file")
        check_out(db, "--tracking_uri", folder=False)


def run_tracked(
    lightning_args: list[str],
    tracking_uri: str,
    experiment: str = EXPERIMENT,
    verbose: bool = True,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Train + test as in step 3 with an MLflow logger; log the outputs as artifacts."""
    check_tracking_uri(tracking_uri)
    loggers: list[MLFlowLogger] = []

    def make_logger() -> MLFlowLogger:
        # Called by `train` once the config is checked: a refused flag creates no database.
        if tracking_uri.startswith("sqlite:///"):
            Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        loggers.append(
            MLFlowLogger(
                experiment_name=experiment,
                tracking_uri=tracking_uri,
                artifact_location=artifact_root_for(tracking_uri),
                log_model=False,  # we log exactly the files we want below
            )
        )
        return loggers[0]

    summary = train(lightning_args, make_logger=make_logger, verbose=verbose, command=command)
    logger = loggers[0]
    client, run_id, out = logger.experiment, logger.run_id, summary["out"]
    # Every resolved setting as a parameter ("optimizer/init_args/lr", "trainer/max_epochs", ...).
    logger.log_hyperparams(yaml.safe_load((out / "config.yaml").read_text()))
    for name in ("config.yaml", "run.json", "training_curve.png", "model.safetensors"):
        client.log_artifact(run_id, str(out / name))
    for ckpt in {summary["last_checkpoint"], summary["best_checkpoint"]}:
        client.log_artifact(run_id, ckpt, artifact_path="checkpoints")
    # One string to compare runs by: the same as in run.json.
    client.set_tag(run_id, "weights_sha256", summary["weights_sha256"])
    client.set_terminated(run_id, "FINISHED")
    return {**summary, "run_id": run_id}


def run_autologged(
    lightning_args: list[str], tracking_uri: str, experiment: str = EXPERIMENT
) -> dict[str, Any]:
    """The same training with no logger of ours: `mlflow.pytorch.autolog` patches `Trainer.fit`
    and logs the optimiser, its learning rate, the epochs and every logged metric by itself."""
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=artifact_root_for(tracking_uri))
    mlflow.set_experiment(experiment)
    # The model, datasets and checkpoints stay out of MLflow here; the run receipt goes in.
    mlflow.pytorch.autolog(log_models=False, log_datasets=False, checkpoint=False, silent=True)
    try:
        with mlflow.start_run() as active:
            summary = train(lightning_args, verbose=False, command=["mt-mlflow", "--autolog"])
            mlflow.log_artifact(str(summary["run_json"]))
            mlflow.set_tag("weights_sha256", summary["weights_sha256"])
    finally:
        mlflow.pytorch.autolog(disable=True)  # patching is global: undo it for whoever comes next
    return {**summary, "run_id": active.info.run_id}


def find_runs(tracking_uri: str, experiment: str = EXPERIMENT) -> pd.DataFrame:
    """The runs of an experiment as a table, newest first: what `mlflow.search_runs` gives back."""
    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs(experiment_names=[experiment], order_by=["start_time DESC"])
    columns = [
        c
        for c in (
            "run_id",
            "params.optimizer/class_path",
            "params.optimizer/init_args/lr",
            "params.seed",
            "metrics.val_acc",
            "metrics.test_acc",
            "tags.weights_sha256",
        )
        if c in runs.columns
    ]
    return runs[columns]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="mt-mlflow",
        description="Step 4: step 3 + MLflow. Other flags go to the Lightning CLI (see mt-train --help).",
    )
    parser.add_argument("--tracking_uri", default="sqlite:///mlflow.db")
    parser.add_argument("--experiment", default=EXPERIMENT)
    args, lightning_args = parser.parse_known_args(argv)
    if not any(a == "--out" or a.startswith("--out=") for a in lightning_args):
        lightning_args = ["--out=outputs/mlflow", *lightning_args]
    quiet_known_warnings()

    def command() -> None:
        result = run_tracked(
            lightning_args, args.tracking_uri, args.experiment, command=command_line()
        )
        print(
            f"\nMLflow run {result['run_id']} in {args.tracking_uri} (experiment {args.experiment!r})"
        )
        with pd.option_context("display.width", 200, "display.max_colwidth", 20):
            print(find_runs(args.tracking_uri, args.experiment).head(10).to_string(index=False))

    return run_at_edge(command)


if __name__ == "__main__":
    sys.exit(main())
