"""Step 4: the run is in MLflow (sqlite file) with params, metrics, artifacts, and search finds it;
and `mlflow.pytorch.autolog` records the same training with no logger in our code."""

import json

from mlflow import MlflowClient
from modular_training.step4_mlflow import find_runs, run_autologged, run_tracked

ARGS = ["--trainer.max_epochs=2", "--trainer.enable_progress_bar=false"]


def test_run_is_logged_and_found_again(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_tracked(
        [f"--out={tmp_path / 'out'}", *ARGS], uri, experiment="test", verbose=False
    )
    receipt = json.loads((tmp_path / "out" / "run.json").read_text())

    runs = find_runs(uri, "test")
    assert list(runs["run_id"]) == [result["run_id"]]
    row = runs.iloc[0]
    assert row["tags.weights_sha256"] == receipt["weights_sha256"]
    assert abs(row["metrics.test_acc"] - receipt["metrics"]["test_accuracy"]) < 1e-6
    # The resolved config is in the params: the optimiser chosen in the YAML among them.
    assert row["params.optimizer/class_path"] == "torch.optim.Adam"
    assert float(row["params.optimizer/init_args/lr"]) == 0.001

    client = MlflowClient(uri)
    history = client.get_metric_history(result["run_id"], "val_acc")
    assert len(history) == 2  # one value per epoch
    artifacts = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"config.yaml", "run.json", "training_curve.png", "checkpoints"} <= artifacts
    assert (tmp_path / "mlartifacts").is_dir()  # beside the sqlite file, not in the cwd


def test_autolog_records_the_run_without_a_logger(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_autologged([f"--out={tmp_path / 'out'}", *ARGS], uri, experiment="auto")
    run = MlflowClient(uri).get_run(result["run_id"])
    assert run.data.params["optimizer_name"] == "Adam"
    assert float(run.data.params["lr"]) == 0.001
    assert run.data.params["epochs"] == "2"
    history = MlflowClient(uri).get_metric_history(result["run_id"], "val_acc")
    assert len(history) == 2
    assert run.data.tags["weights_sha256"] == result["weights_sha256"]
    # Autologging is switched off again: a later plain run logs nothing anywhere.
    import mlflow

    assert mlflow.active_run() is None
