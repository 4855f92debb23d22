"""Classical ML in the same tracker: scikit-learn on the digits, recorded by MLflow's autolog.

    tracking-sklearn                      # a small grid into ./mlflow.db, experiment digits-sklearn

`mlflow.sklearn.autolog()` patches scikit-learn's `fit`: one `GridSearchCV.fit` becomes a
parent run (the search's settings, the best parameters, the best cross-validation score, the
`cv_results.csv` table, training metrics and a confusion matrix) with one child run per grid
point. Scoring the fitted model on the test set is logged too (`accuracy_score_x_test`, named
after the variable). The model itself we log by hand, to give it exact requirements and a
format that loads without unpickling code (skops).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn import metrics
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from model_tracking.digits import load_digit_splits
from model_tracking.mlflow_store import ensure_experiment
from model_tracking.plumbing import (
    DEFAULT_TRACKING_URI,
    BadInput,
    check_out,
    check_tracking_uri,
    parser_for,
    publish,
    run_at_edge,
)
from model_tracking.provenance import provenance
from model_tracking.receipt import (
    atomic_write,
    command_line,
    data_sha256,
    weights_sha256,
    write_run_json,
)

GRID = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
RUN_FILES = ("run.json", "weights.npz")  # an earlier run of this command may be replaced


@dataclass
class SklearnRun:
    run_id: str
    model_uri: str
    search: GridSearchCV
    test_accuracy: float
    out: Path


def learned_arrays(pipeline: Pipeline) -> dict[str, torch.Tensor]:
    """The fitted numbers of every step (scikit-learn names them with a trailing underscore)."""
    return {
        f"{step}.{name}": torch.from_numpy(np.ascontiguousarray(value))
        for step, estimator in pipeline.steps
        for name, value in vars(estimator).items()
        if name.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind in "fiu"
    }


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to a path
        np.savez(f, **arrays)


def model_requirements() -> list[str]:
    import importlib.metadata

    packages = ("scikit-learn", "skops", "numpy", "mlflow")
    return [f"{p}=={importlib.metadata.version(p)}" for p in packages]


def check_input(tracking_uri: str, experiment: str, seed: int, out: Path) -> None:
    """Everything that can be refused, refused before MLflow creates anything."""
    check_tracking_uri(tracking_uri)
    if not 0 <= seed < 2**32:
        raise BadInput(f"--seed must be in [0, 2**32), got {seed}")
    if not experiment.strip():
        raise BadInput("--experiment must not be empty")
    check_out(out, replaceable=RUN_FILES)


def run_grid(tracking_uri: str, experiment: str, seed: int, out: Path) -> SklearnRun:
    import mlflow
    from mlflow.models import infer_signature

    started = time.time()
    check_input(tracking_uri, experiment, seed, out)
    data = load_digit_splits()
    # Cross-validation replaces the fixed validation split; the test split stays untouched.
    x_fit = np.concatenate([data.x_train.numpy(), data.x_val.numpy()])
    y_fit = np.concatenate([data.y_train.numpy(), data.y_val.numpy()])
    x_test, y_test = data.x_test.numpy(), data.y_test.numpy()
    data_hash = data_sha256(*data.arrays())  # the same hash as the MLP's runs: the same data

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_id=ensure_experiment(tracking_uri, experiment))
    # log_models=False: autolog would infer the model's requirements by re-importing it in a
    # subprocess (slow, and a guess); we log the best model ourselves with exact ones below.
    mlflow.sklearn.autolog(log_models=False, max_tuning_runs=None, silent=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        GRID,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),  # the seed picks folds
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.partial-"))
    try:
        with mlflow.start_run(
            run_name=f"logreg-grid-seed{seed}", tags=provenance(data_hash)
        ) as run:
            search.fit(x_fit, y_fit)  # autolog records the search here
            # ... and this, because autolog patched `sklearn.metrics.accuracy_score`: call it
            # through the module (a name imported before autolog() is the unpatched function).
            test_accuracy = metrics.accuracy_score(y_test, search.predict(x_test))
            model = search.best_estimator_
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                pip_requirements=model_requirements(),
                signature=infer_signature(x_test[:5], model.predict(x_test[:5])),
            )
            weights = learned_arrays(model)
            arrays = {k: v.numpy() for k, v in weights.items()}
            atomic_write(staging / "weights.npz", lambda tmp: save_npz(tmp, arrays))
            receipt = write_run_json(
                staging,
                seed=seed,
                config={"grid": GRID, "cv_folds": 3, "tracking_uri": tracking_uri,
                        "experiment": experiment, "mlflow_run_id": run.info.run_id},
                metrics={"best_cv_score": float(search.best_score_),
                         "test_accuracy": float(test_accuracy)},
                weights_sha256=weights_sha256(weights),
                data_sha256=data_hash,
                started=started,
                command=command_line(),
                weights_file=staging / "weights.npz",
            )  # fmt: skip
            mlflow.log_artifact(str(receipt))
    except BaseException:
        shutil.rmtree(staging)  # this command made it, and it holds no checkpoint
        raise
    finally:
        mlflow.sklearn.autolog(disable=True)  # later fits in this process are not recorded
    publish(staging, out, replaceable=RUN_FILES)
    return SklearnRun(run.info.run_id, info.model_uri, search, float(test_accuracy), out)


def describe(tracking_uri: str, run_id: str) -> str:
    """What autolog put in the store, read back from it."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    params = run.data.params
    children = mlflow.search_runs(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
        order_by=["metrics.rank_test_score ASC"],
    )
    grid = children[["params.logisticregression__C", "metrics.mean_test_score"]]
    lines = [
        f"parent run {run_id}: {len(params)} params, e.g. best_logisticregression__C = "
        f"{params.get('best_logisticregression__C')}, cv = {params.get('cv')}",
        "metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(run.data.metrics.items())),
        "tags: " + ", ".join(f"{k}={v}" for k, v in run.data.tags.items() if k.startswith("est")),
        "artifacts: " + ", ".join(a.path for a in client.list_artifacts(run_id)),
        f"{len(children)} child runs, one per grid point (mean CV accuracy):",
        grid.rename(
            columns=lambda c: c.split(".")[-1].replace("logisticregression__", "")
        ).to_string(index=False),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, prog="tracking-sklearn")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cross-validation folds")
    parser.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    parser.add_argument("--experiment", default="digits-sklearn")
    parser.add_argument("--out", type=Path, default=Path("outputs/sklearn"))
    args = parser.parse_args(argv)

    def body() -> int:
        result = run_grid(args.tracking_uri, args.experiment, args.seed, args.out)
        print(describe(args.tracking_uri, result.run_id))
        print(f"test accuracy {result.test_accuracy:.3f} | model {result.model_uri} (skops) | "
              f"receipt {result.out / 'run.json'}")  # fmt: skip
        return 0

    return run_at_edge(body, prog="tracking-sklearn")


if __name__ == "__main__":
    sys.exit(main())
