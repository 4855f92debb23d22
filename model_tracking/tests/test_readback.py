"""Each tool, read back through its own reader, holds exactly what the script computed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_tracking.digits import build_model, load_digit_splits
from model_tracking.readback import read_mlflow_run, read_tensorboard, read_wandb_offline
from model_tracking.train import EPOCH_METRICS
from safetensors.torch import load_file

PROVENANCE = (
    "git_commit",
    "git_dirty",
    "lock_sha256",
    "data_sha256",
    "version_torch",
    "version_mlflow",
)


def hyperparameters(receipt):
    keys = ("lr", "batch_size", "epochs", "hidden", "seed", "split_seed", "optimizer", "loss")
    return {k: receipt["config"][k] for k in keys}


def expected_tags(receipt):
    git = receipt["git"]
    return {
        "git_commit": git["commit"] if git else "not-a-git-checkout",
        "lock_sha256": receipt["lock_sha256"],
        "data_sha256": receipt["data_sha256"],
    }


# ---------------------------------------------------------------------------------- MLflow


@pytest.fixture(scope="module")
def mlflow_record(cli_run, tracking_uri):
    run_id = cli_run["receipt"]["config"]["tracked_in"]["mlflow"]["run_id"]
    return read_mlflow_run(tracking_uri, run_id)


def test_mlflow_params_tags_metrics_artifacts(cli_run, mlflow_record, artifacts):
    receipt, history = cli_run["receipt"], cli_run["history"]
    # MLflow stores params as strings: compare the string forms.
    assert mlflow_record["params"] == {k: str(v) for k, v in hyperparameters(receipt).items()}
    assert set(PROVENANCE) <= set(mlflow_record["tags"])
    assert expected_tags(receipt).items() <= mlflow_record["tags"].items()
    epochs = list(range(1, len(history["train_loss"]) + 1))
    for key in EPOCH_METRICS:
        assert mlflow_record["metrics"][key] == history[key]  # float64 in sqlite: exact
        assert mlflow_record["steps"][key] == epochs  # each value at its own epoch
    assert mlflow_record["metrics"]["test_accuracy"] == [receipt["metrics"]["test_accuracy"]]
    assert set(mlflow_record["artifacts"]) >= artifacts


def test_mlflow_logged_model_has_signature_and_predicts_identically(cli_run, tracking_uri):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    run_id = cli_run["receipt"]["config"]["tracked_in"]["mlflow"]["run_id"]
    [logged] = [
        m
        for m in mlflow.search_logged_models(output_format="list", experiment_ids=["1"])
        if m.source_run_id == run_id
    ]
    info = mlflow.models.get_model_info(logged.model_uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    versions = MlflowClient(tracking_uri).search_model_versions("name='digits-mlp'")
    assert run_id in {v.run_id for v in versions}

    original = build_model()
    original.load_state_dict(load_file(cli_run["out"] / "model.safetensors"))
    loaded = mlflow.pytorch.load_model(logged.model_uri)
    x = load_digit_splits().x_test
    with torch.no_grad():  # the pt2 model is an exported graph: no .eval(), no training mode
        assert torch.equal(original.eval()(x), loaded(x))


# ---------------------------------------------------------------------------------- TensorBoard


def test_tensorboard_event_files(cli_run, artifacts):
    receipt, history = cli_run["receipt"], cli_run["history"]
    logdir = cli_run["out"] / receipt["config"]["tracked_in"]["tensorboard"]["logdir"]
    record = read_tensorboard(logdir)
    for key in EPOCH_METRICS:
        # Event files store scalars as float32.
        np.testing.assert_array_equal(record["scalars"][key], np.float32(history[key]))
        assert record["steps"][key] == list(range(1, len(history[key]) + 1))
    assert record["hparams"] == hyperparameters(receipt)
    provenance = record["texts"]["provenance/text_summary"]
    assert all(value in provenance for value in expected_tags(receipt).values())
    assert "training_curve" in record["images"] and record["has_graph"]
    assert {p.name for p in logdir.iterdir()} >= artifacts


# ---------------------------------------------------------------------------------- W&B offline


def test_wandb_offline_run_files(cli_run, artifacts):
    receipt, history = cli_run["receipt"], cli_run["history"]
    record = read_wandb_offline(cli_run["out"] / "wandb")
    assert record["run_dir"].name.startswith("offline-run-")
    config = dict(record["config"])
    provenance = config.pop("provenance")
    assert config == hyperparameters(receipt)
    assert expected_tags(receipt).items() <= provenance.items()
    for key in EPOCH_METRICS:
        assert record["history"][key] == history[key]  # JSON round trip: exact
    assert record["history"]["_step"] == list(range(1, len(history["train_loss"]) + 1))
    assert record["summary"]["test_accuracy"] == receipt["metrics"]["test_accuracy"]
    assert set(record["files"]) >= artifacts


# ---------------------------------------------------------------------------------- all of them


def test_same_seed_gives_same_series_in_every_tool(cli_run, same_seed_run, tracking_uri):
    first, second = cli_run["receipt"]["config"]["tracked_in"], same_seed_run.locations
    a = read_mlflow_run(tracking_uri, first["mlflow"]["run_id"])["metrics"]
    b = read_mlflow_run(tracking_uri, second["mlflow"]["run_id"])["metrics"]
    assert a == b
    tb_a = read_tensorboard(cli_run["out"] / "tensorboard")["scalars"]
    tb_b = read_tensorboard(same_seed_run.out / "tensorboard")["scalars"]
    assert tb_a == tb_b
    wb_a = read_wandb_offline(cli_run["out"] / "wandb")["history"]
    wb_b = read_wandb_offline(same_seed_run.out / "wandb")["history"]
    assert {k: wb_a[k] for k in EPOCH_METRICS} == {k: wb_b[k] for k in EPOCH_METRICS}


def test_secrets_never_reach_any_record(cli_run, same_seed_run, session_dir, secrets, tracking_uri):
    from mlflow import MlflowClient

    assert all(len(v) > 20 for v in secrets.values())
    client = MlflowClient(tracking_uri)
    for run in client.search_runs(experiment_ids=["1"]):
        logged = str(run.data.params) + str(run.data.tags)
        assert not any(secret in logged for secret in secrets.values())
    # Every byte written: receipts, event files, W&B run files and logs, the sqlite store, artifacts.
    files = [p for p in session_dir.rglob("*") if p.is_file()]
    assert len(files) > 30
    for path in files:
        data = path.read_bytes()
        for name, secret in secrets.items():
            assert secret.encode() not in data, f"{name} leaked into {path}"


def test_readback_matrix_for_the_slides_has_no_gap(same_seed_run, tracking_uri, tmp_path):
    from model_tracking.figures import plot_readback_matrix, readback_matrix

    matrix = readback_matrix(same_seed_run, tracking_uri)
    assert "MISSING" not in {cell for row in matrix.values() for cell in row.values()}
    assert plot_readback_matrix(matrix, tmp_path / "m.png").stat().st_size > 5_000
