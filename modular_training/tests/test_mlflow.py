"""Step 4: the run is in MLflow (sqlite file) with params, metrics, artifacts, and search finds it."""

import json

from mlflow import MlflowClient
from modular_training.step4_mlflow import find_runs, run_tracked


def test_run_is_logged_and_found_again(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        f"--out={tmp_path / 'out'}",
        "--trainer.max_epochs=2",
        "--trainer.enable_progress_bar=false",
    ]
    result = run_tracked(args, uri, experiment="test", verbose=False)
    receipt = json.loads((tmp_path / "out" / "run.json").read_text())

    runs = find_runs(uri, "test")
    assert list(runs["run_id"]) == [result["run_id"]]
    row = runs.iloc[0]
    assert row["tags.weights_sha256"] == receipt["weights_sha256"]
    assert abs(row["metrics.test_acc"] - receipt["metrics"]["test_accuracy"]) < 1e-6
    assert float(row["params.lr"]) == 0.001

    client = MlflowClient(uri)
    history = client.get_metric_history(result["run_id"], "val_acc")
    assert len(history) == 2  # one value per epoch
    artifacts = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"config.yaml", "run.json", "training_curve.png", "checkpoints"} <= artifacts
    assert (tmp_path / "mlartifacts").is_dir()  # beside the sqlite file, not in the cwd
