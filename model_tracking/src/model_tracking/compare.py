"""Compare runs through the tracker instead of through folder names: a small sweep in MLflow.

    tracking-compare                         # 3 learning rates x 2 seeds into ./mlflow.db

Each run is logged (params, metric history, model); then `mlflow.search_runs` returns them as
a table sorted by validation accuracy and `mlflow.search_logged_models` finds the best model.
Only that one is registered, as a new version of `digits-mlp`, the way teams use a registry:
the new version becomes `@challenger`, and `@champion` moves to it only if it beats the
current champion's validation accuracy by PROMOTION_MARGIN (the validation split is reused by
every sweep, so a small win can be luck). Whoever deploys loads `models:/digits-mlp@champion`.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from model_tracking.plots import plot_sweep
from model_tracking.plumbing import (
    DEFAULT_TRACKING_URI,
    check_writable_folder,
    finite_float,
    parser_for,
    run_at_edge,
)
from model_tracking.receipt import write_json_atomic
from model_tracking.train import TrainConfig, run_training, validate

# Every sweep is judged against the champion on the same validation split, sweep after sweep: the
# holdout is reused, and a model that is only lucky on those 360 images wins sooner or later (the
# overfitting session's Ladder measures this). So @champion moves only on a clear margin, the
# Ladder's step: about one standard error of an accuracy on 360 images. The test split is never
# used to decide; a fresh holdout would be the other honest choice.
PROMOTION_MARGIN = 0.01

TABLE_COLUMNS = {
    "params.lr": "lr",
    "params.seed": "seed",
    "metrics.val_accuracy": "val_accuracy",
    "metrics.test_accuracy": "test_accuracy",
    "metrics.val_loss": "val_loss",
    "tags.weights_sha256": "weights_sha256",
    "run_id": "run_id",
}


def run_sweep(
    lrs: list[float],
    seeds: list[int],
    epochs: int,
    tracking_uri: str,
    experiment: str,
    out: Path,
) -> str:
    """Train every (lr, seed) pair with the MLflow tracker; return the sweep's id tag."""
    from mlflow import MlflowClient

    sweep_id = uuid.uuid4().hex[:8]  # tags this sweep's runs, so older runs in the store stay out
    for lr in lrs:
        for seed in seeds:
            result = run_training(
                TrainConfig(
                    epochs=epochs,
                    lr=lr,
                    seed=seed,
                    trackers=("mlflow",),
                    out=out / f"lr{lr}-seed{seed}",
                    tracking_uri=tracking_uri,
                    experiment=experiment,
                    register_as="",  # only the sweep's best model gets registered
                    extra_tags={"sweep_id": sweep_id},
                )
            )
            # The weights hash as a tag: identical runs are recognisable with one filter.
            run_id = result.locations["mlflow"]["run_id"]
            MlflowClient(tracking_uri).set_tag(run_id, "weights_sha256", result.weights_sha256)
    return sweep_id


def sweep_table(tracking_uri: str, experiment: str, sweep_id: str) -> pd.DataFrame:
    """The sweep's runs as a DataFrame, best validation accuracy first - straight from MLflow."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.sweep_id = '{sweep_id}'",
        order_by=["metrics.val_accuracy DESC", "metrics.val_loss ASC"],
    )
    table = runs[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    table["weights_sha256"] = table["weights_sha256"].str[:12]
    return table.reset_index(drop=True)


def best_logged_model(tracking_uri: str, experiment: str, sweep_id: str):
    """The logged model with the highest validation accuracy among this sweep's runs."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.get_experiment_by_name(experiment).experiment_id
    run_ids = mlflow.search_runs(
        experiment_ids=[experiment_id], filter_string=f"tags.sweep_id = '{sweep_id}'"
    )["run_id"]
    models = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        order_by=[{"field_name": "metrics.final_val_accuracy", "ascending": False}],
        output_format="list",
    )
    return next(m for m in models if m.source_run_id in set(run_ids))


def metric_curves(
    tracking_uri: str, table: pd.DataFrame, key: str = "val_accuracy"
) -> dict[str, list[float]]:
    """Per-epoch series of each run, read back from the store (not from local files)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    curves = {}
    for row in table.itertuples():
        history = sorted(client.get_metric_history(row.run_id, key), key=lambda m: m.step)
        curves[f"lr={row.lr} seed={row.seed}"] = [m.value for m in history]
    return curves


def register_best(
    tracking_uri: str, name: str, model_uri: str, best_run: pd.Series, sweep_id: str
) -> dict[str, Any]:
    """Register the sweep's best model; it is @challenger, and @champion if it beats the champion."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    version = mlflow.register_model(model_uri, name).version
    val_accuracy = float(best_run["val_accuracy"])
    data_hash = client.get_run(best_run["run_id"]).data.tags["data_sha256"]
    # What a colleague needs to trust this version without opening the run: why it was chosen.
    client.update_model_version(
        name,
        version,
        description=f"Best of sweep {sweep_id} by validation accuracy "
        f"(lr={best_run['lr']}, seed={best_run['seed']}); test accuracy reported, not used.",
    )
    for key, value in {
        "sweep_id": sweep_id,
        "selected_on": "val_accuracy",
        "promotion_margin": PROMOTION_MARGIN,
        "val_accuracy": val_accuracy,
        "data_sha256": data_hash,
    }.items():
        client.set_model_version_tag(name, version, key, str(value))
    client.set_registered_model_alias(name, "challenger", version)
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:  # the first version ever: nothing to beat
        champion = None
    previous = champion.version if champion else None
    promote = beats_champion(val_accuracy, data_hash, champion.tags if champion else None)
    if promote:
        client.set_registered_model_alias(name, "champion", version)
    return {
        "name": name,
        "version": int(version),
        "champion": int(version if promote else previous),
        "previous_champion": int(previous) if previous else None,
    }


def beats_champion(val_accuracy: float, data_hash: str, champion: dict[str, str] | None) -> bool:
    """May a challenger take @champion? Same validation data, and better by PROMOTION_MARGIN."""
    if champion is None:  # the first version ever: nothing to beat
        return True
    if champion.get("data_sha256") != data_hash:  # scores on other data do not compare
        return False
    return val_accuracy - float(champion["val_accuracy"]) >= PROMOTION_MARGIN


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, prog="tracking-compare")
    parser.add_argument("--lrs", type=finite_float, nargs="+", default=[0.001, 0.01, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    parser.add_argument("--experiment", default="digits-sweep")
    parser.add_argument("--register-as", default="digits-mlp", help="'' to register nothing")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare"))
    args = parser.parse_args(argv)
    return run_at_edge(lambda: compare(args), prog="tracking-compare")


def check_sweep(args) -> None:
    """Every run of the sweep is checked before the first one starts, not after the fifth."""
    check_writable_folder(args.out, "--out")
    for lr in args.lrs:
        for seed in args.seeds:
            validate(TrainConfig(
                lr=lr, seed=seed, epochs=args.epochs, trackers=("mlflow",),
                tracking_uri=args.tracking_uri, experiment=args.experiment,
                out=args.out / f"lr{lr}-seed{seed}",
            ))  # fmt: skip


def compare(args) -> int:
    started = time.perf_counter()
    check_sweep(args)
    sweep_id = run_sweep(
        args.lrs, args.seeds, args.epochs, args.tracking_uri, args.experiment, args.out
    )
    table = sweep_table(args.tracking_uri, args.experiment, sweep_id)
    best = best_logged_model(args.tracking_uri, args.experiment, sweep_id)
    best_run = table.set_index("run_id", drop=False).loc[best.source_run_id]
    registry = (
        register_best(args.tracking_uri, args.register_as, best.model_uri, best_run, sweep_id)
        if args.register_as
        else None
    )
    plot = plot_sweep(
        metric_curves(args.tracking_uri, table),
        {f"lr={r.lr} seed={r.seed}": r.val_accuracy for r in table.itertuples()},
        args.out / "comparison.png",
    )
    table.to_csv(args.out / "comparison.csv", index=False)
    write_json_atomic(
        args.out / "best.json",
        {"sweep_id": sweep_id, "model_id": best.model_id, "model_uri": best.model_uri,
         "run_id": best.source_run_id, "registry": registry},
    )  # fmt: skip
    print(
        f"sweep {sweep_id}: {len(table)} runs, sorted by validation accuracy (mlflow.search_runs)"
    )
    print(table.to_string(index=False))
    print(f"best logged model: {best.model_uri} (search_logged_models)")
    if registry:
        name, version, champion = registry["name"], registry["version"], registry["champion"]
        moved = (
            "moved to it"
            if champion == version
            else f"stays on version {champion} (it moves for +{PROMOTION_MARGIN} val_accuracy)"
        )
        print(f"registered {name} version {version} as @challenger; @champion {moved}")
        print(f"load it with mlflow.pytorch.load_model('models:/{name}@champion')")
    print(f"plot: {plot}  table: {args.out / 'comparison.csv'}")
    # The sweep's benchmark: printed, never asserted (it depends on the machine and its load).
    print(f"took {time.perf_counter() - started:.1f} s for {len(table)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
