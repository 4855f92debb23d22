"""Step 4 - the step-3 run, tracked in MLflow on a local sqlite file, then found again by search.

Nothing about the model changes: we hand the Trainer an `MLFlowLogger`. It records the
hyperparameters and the per-epoch metrics; we add the resolved config, the checkpoints and the
run receipt as artifacts, so the MLflow run alone is enough to trace and re-check the result.
Offline by default: `sqlite:///mlflow.db` is a file; point --tracking_uri at a server to share.

Run:  uv run mt-mlflow                      (then: uv run mlflow ui --backend-store-uri sqlite:///mlflow.db)
      uv run mt-mlflow --seed_everything 1 --trainer.max_epochs 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from lightning.pytorch.loggers import MLFlowLogger

from modular_training.data import DataUnavailable
from modular_training.step3_lightning import (
    ConfigError,
    one_line,
    quiet_known_warnings,
    run,
)

EXPERIMENT = "modular-training-digits"


def artifact_root_for(tracking_uri: str) -> str | None:
    """Keep artifacts beside a sqlite file (`mlartifacts/`), not in whatever folder we were started from."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///")).resolve()
        return (db.parent / "mlartifacts").as_uri()
    return None  # a server decides where artifacts go


def run_tracked(
    lightning_args: list[str], tracking_uri: str, experiment: str = EXPERIMENT, verbose: bool = True
) -> dict[str, Any]:
    """Train + test as in step 3 with an MLflow logger; log the outputs as artifacts."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    logger = MLFlowLogger(
        experiment_name=experiment,
        tracking_uri=tracking_uri,
        artifact_location=artifact_root_for(tracking_uri),
        log_model=False,  # we log exactly the files we want below
    )
    summary = run(lightning_args, logger=logger, verbose=verbose, command_name="mt-mlflow")
    client, run_id, out = logger.experiment, logger.run_id, summary["out"]
    for name in ("config.yaml", "run.json", "training_curve.png", "model.safetensors"):
        client.log_artifact(run_id, str(out / name))
    for ckpt in {summary["last_checkpoint"], summary["best_checkpoint"]}:
        client.log_artifact(run_id, ckpt, artifact_path="checkpoints")
    # One string to compare runs by: the same as in run.json.
    client.set_tag(run_id, "weights_sha256", summary["weights_sha256"])
    client.set_terminated(run_id, "FINISHED")
    return {**summary, "run_id": run_id}


def find_runs(tracking_uri: str, experiment: str = EXPERIMENT) -> pd.DataFrame:
    """The runs of an experiment as a table, newest first: what `mlflow.search_runs` gives back."""
    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs(experiment_names=[experiment], order_by=["start_time DESC"])
    columns = [
        c
        for c in (
            "run_id",
            "params.lr",
            "params.seed",
            "metrics.val_acc",
            "metrics.test_acc",
            "tags.weights_sha256",
        )
        if c in runs.columns
    ]
    return runs[columns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Step 4: step 3 + MLflow. Other flags go to the Lightning CLI (see mt-train --help).",
    )
    parser.add_argument("--tracking_uri", default="sqlite:///mlflow.db")
    parser.add_argument("--experiment", default=EXPERIMENT)
    args, lightning_args = parser.parse_known_args(argv)
    if not any(a == "--out" or a.startswith("--out=") for a in lightning_args):
        lightning_args = ["--out=outputs/mlflow", *lightning_args]
    if "://" not in args.tracking_uri:
        print(
            f"error: --tracking_uri needs a scheme, e.g. sqlite:///mlflow.db, got {args.tracking_uri!r}",
            file=sys.stderr,
        )
        return 2
    quiet_known_warnings()
    try:
        result = run_tracked(lightning_args, args.tracking_uri, args.experiment)
    except (argparse.ArgumentError, ConfigError, DataUnavailable, ValueError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(
        f"\nMLflow run {result['run_id']} in {args.tracking_uri} (experiment {args.experiment!r})"
    )
    with pd.option_context("display.width", 200, "display.max_colwidth", 20):
        print(find_runs(args.tracking_uri, args.experiment).head(10).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
