"""One store: the run is read back from the store it was logged to, and a reader pointed at
another store (the file store logged to, a sqlite database opened) is told so in one line."""

from __future__ import annotations

import pytest
from model_tracking.mlflow_store import StoreMismatch, run_in_store


def log_one_run(tracking_uri: str) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.create_run(client.create_experiment("store-check"))
    client.log_param(run.info.run_id, "lr", 0.01)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_a_run_is_found_in_its_own_store_and_not_in_another(tmp_path, monkeypatch):
    # The bug replayed: logged to a folder store (`file:`), then a sqlite database opened, as
    # `mlflow ui --backend-store-uri sqlite:///mlflow.db` would: an empty list, no error.
    # The locked MLflow refuses a folder store unless this is set; the original predates that.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    logged = (tmp_path / "mlruns").as_uri()
    opened = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_one_run(logged)
    assert run_in_store(logged, run_id) == "FINISHED"
    with pytest.raises(StoreMismatch, match=f"run {run_id} is not in {opened}") as caught:
        run_in_store(opened, run_id, logged_uri=logged)
    assert f"it was logged to {logged}" in str(caught.value)
    # The same the other way round: two sqlite files are two stores as well.
    other = f"sqlite:///{tmp_path / 'other.db'}"
    second = log_one_run(opened)
    assert run_in_store(opened, second) == "FINISHED"
    with pytest.raises(StoreMismatch):
        run_in_store(other, second)


def test_the_cli_names_the_store_its_run_is_in(cli_run):
    # tracking-train prints the UI command only after finding its run in that very store.
    line = next(ln for ln in cli_run["stdout"].splitlines() if ln.startswith("mlflow: run "))
    run_id, uri = line.split()[2], line.split()[4].rstrip(";")
    assert uri == cli_run["receipt"]["config"]["tracking_uri"]
    assert run_in_store(uri, run_id) == "FINISHED"
