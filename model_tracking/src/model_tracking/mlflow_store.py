"""Where an MLflow run is written, and the check that you read it back from the same place.

A tracking URI names a store: `sqlite:///mlflow.db` (a database file), `http://127.0.0.1:5000`
(a server), or the older `file:./mlruns` folder. Log to one store and open another, and the UI
shows an empty experiment list: the run is not lost, you are looking in the wrong place.
`run_in_store` asks the store you are about to read for the run you just logged.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["StoreMismatch", "ensure_experiment", "run_in_store"]


class StoreMismatch(LookupError):
    """The run is not in the store that was opened: the two tracking URIs differ."""


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


def run_in_store(read_uri: str, run_id: str, logged_uri: str | None = None) -> str:
    """Return the run's status as `read_uri`'s store has it; raise StoreMismatch if it has none.

    Use it where a run is read back (a UI command you print, a notebook's search): it catches
    a store that differs from the one the code logged to, whatever the two URIs look like.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient(tracking_uri=read_uri).get_run(run_id).info.status
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" not in str(exc.error_code):
            raise
    logged = f" (it was logged to {logged_uri})" if logged_uri else ""
    raise StoreMismatch(
        f"run {run_id} is not in {read_uri}{logged}: the store you read is not the store the "
        "code logged to; give both the same tracking URI"
    )
