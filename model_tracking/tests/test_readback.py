"""Each tool, read back through its own reader, holds exactly what the script computed."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess

import numpy as np
import pytest
import torch
from conftest import EPOCHS, RUN_NAME_PREFIX
from model_tracking.digits import build_model, load_digit_splits
from model_tracking.readback import read_mlflow_run, read_tensorboard, read_wandb_offline
from model_tracking.receipt import TOPIC_ROOT, data_sha256, weights_sha256
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


def mlflow_ids(receipt) -> tuple[str, str]:
    """(experiment id, run id) as the run recorded them: ids are the store's, never guessed."""
    tracked = receipt["config"]["tracked_in"]["mlflow"]
    return tracked["experiment_id"], tracked["run_id"]


def expected_tags(receipt):
    return {"lock_sha256": receipt["lock_sha256"], "data_sha256": receipt["data_sha256"]}


def started_on_receipt_commit(tag_commit: str, receipt) -> bool:
    """The trackers' git_commit (taken at the start) is the receipt's (taken at the end), or,
    when someone committed while the run trained, an ancestor of it."""
    git = receipt["git"]
    if git is None:
        return tag_commit == "not-a-git-checkout"
    if tag_commit == git["commit"]:
        return True
    ancestor = ["git", "merge-base", "--is-ancestor", tag_commit, git["commit"]]
    return subprocess.run(ancestor, cwd=TOPIC_ROOT, capture_output=True).returncode == 0


# ---------------------------------------------------------------------------------- MLflow


@pytest.fixture(scope="module")
def mlflow_record(cli_run, tracking_uri):
    return read_mlflow_run(tracking_uri, mlflow_ids(cli_run["receipt"])[1])


def test_mlflow_params_tags_metrics_artifacts(cli_run, mlflow_record, artifacts):
    receipt, history = cli_run["receipt"], cli_run["history"]
    # MLflow stores params as strings: compare the string forms.
    assert mlflow_record["params"] == {k: str(v) for k, v in hyperparameters(receipt).items()}
    assert set(PROVENANCE) <= set(mlflow_record["tags"])
    assert expected_tags(receipt).items() <= mlflow_record["tags"].items()
    assert started_on_receipt_commit(mlflow_record["tags"]["git_commit"], receipt)
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
    experiment_id, run_id = mlflow_ids(cli_run["receipt"])
    [logged] = [
        m
        for m in mlflow.search_logged_models(output_format="list", experiment_ids=[experiment_id])
        if m.source_run_id == run_id
    ]
    info = mlflow.models.get_model_info(logged.model_uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    # A single training run registers nothing: the registry gets a sweep's best (test_compare).
    assert MlflowClient(tracking_uri).search_model_versions(f"run_id='{run_id}'") == []

    original = build_model()
    original.load_state_dict(load_file(cli_run["out"] / "model.safetensors"))
    loaded = mlflow.pytorch.load_model(logged.model_uri)
    x = load_digit_splits().x_test
    with torch.no_grad():  # the pt2 model is an exported graph: no .eval(), no training mode
        assert torch.equal(original.eval()(x), loaded(x))


def test_mlflow_checkpoint_per_epoch(cli_run, mlflow_record, tracking_uri, tmp_path):
    import mlflow

    names = [f"checkpoints/epoch-{e:03d}.safetensors" for e in range(1, EPOCHS + 1)]
    assert mlflow_record["checkpoints"] == names
    run_id = mlflow_ids(cli_run["receipt"])[1]
    hashes = [
        weights_sha256(load_file(mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=name, dst_path=str(tmp_path), tracking_uri=tracking_uri
        )))
        for name in (names[0], names[-1])
    ]  # fmt: skip
    # The last epoch's checkpoint is the final model; the first one is a different model.
    assert hashes[1] == cli_run["receipt"]["weights_sha256"] != hashes[0]


def test_mlflow_datasets_and_how_their_digest_relates_to_data_sha256(cli_run, mlflow_record):
    import mlflow

    data = load_digit_splits()
    splits = {
        "training": (data.x_train, data.y_train),
        "validation": (data.x_val, data.y_val),
        "testing": (data.x_test, data.y_test),
    }
    assert set(mlflow_record["inputs"]) == set(splits)
    for context, (x, y) in splits.items():
        logged = mlflow_record["inputs"][context]
        assert logged["digest"] == mlflow.data.from_numpy(x.numpy(), targets=y.numpy()).digest
        assert logged["tags"]["sha256"] == data_sha256(x, y)  # every byte of this split
    # The receipt's data_sha256 is the same hash over all six arrays, in split order.
    assert cli_run["receipt"]["data_sha256"] == data_sha256(
        *(a for pair in splits.values() for a in pair)
    )

    # Why both: MLflow's digest reads only the first 10,000 values (and the shape). One pixel
    # changed in image 500 of the training split slips past it; the sha256 sees it.
    x, y = splits["training"]
    changed = x.clone()
    changed[500, 10] += 1.0
    assert (
        mlflow.data.from_numpy(changed.numpy(), targets=y.numpy()).digest
        == (mlflow_record["inputs"]["training"]["digest"])
    )
    assert data_sha256(changed, y) != data_sha256(x, y)


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
    commit = re.search(r"\| git_commit \| (\S+) \|", provenance).group(1)
    assert started_on_receipt_commit(commit, receipt)
    assert "training_curve" in record["images"] and record["has_graph"]
    assert {p.name for p in logdir.iterdir()} >= artifacts


# ---------------------------------------------------------------------------------- W&B offline


def md5_base64(path) -> str:
    """How W&B writes a file's digest in an artifact manifest."""
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


def test_wandb_offline_run_files(cli_run, artifacts, wandb_home):
    receipt, history = cli_run["receipt"], cli_run["history"]
    record = read_wandb_offline(cli_run["out"] / "wandb")
    assert record["run_dir"].name.startswith("offline-run-")
    config = dict(record["config"])
    provenance = config.pop("provenance")
    assert config == hyperparameters(receipt)
    assert expected_tags(receipt).items() <= provenance.items()
    assert started_on_receipt_commit(provenance["git_commit"], receipt)
    for key in EPOCH_METRICS:
        assert record["history"][key] == history[key]  # JSON round trip: exact
    assert record["history"]["_step"] == list(range(1, len(history["train_loss"]) + 1))
    assert record["summary"]["test_accuracy"] == receipt["metrics"]["test_accuracy"]

    # The files travel as an artifact (a manifest of digests, the files staged for `wandb
    # sync` under WANDB_DATA_DIR), not as copies dropped into the run folder.
    [files] = record["artifacts"]["digits-mlp"]
    assert files["type"] == "model" and set(files["files"]) == artifacts
    assert not artifacts & set(record["files"])
    for name, (digest, staged) in files["files"].items():
        assert digest == md5_base64(cli_run["out"] / name), name
        assert staged.is_relative_to(wandb_home) and digest == md5_base64(staged), name
    assert files["metadata"]["test_accuracy"] == receipt["metrics"]["test_accuracy"]
    # One checkpoint artifact, a new version per epoch, each with its epoch alias.
    versions = record["artifacts"]["digits-mlp-checkpoint"]
    assert [f"epoch-{e}" in v["aliases"] for e, v in enumerate(versions, 1)] == [True] * EPOCHS
    last_weights = load_file(next(iter(versions[-1]["files"].values()))[1])
    assert weights_sha256(last_weights) == receipt["weights_sha256"]


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


def test_secrets_never_reach_any_record(
    cli_run, same_seed_run, session_dir, secrets, tracking_uri, wandb_home
):
    from mlflow import MlflowClient

    assert all(len(v) > 20 for v in secrets.values())
    # The CLI run got HF_TOKEN in its argv, as its run name: it was really passed, and what
    # each tool kept in its place is the scrubbed name.
    scrubbed = f"{RUN_NAME_PREFIX}***"
    receipt = cli_run["receipt"]
    assert receipt["command"][-2:] == ["--run-name", scrubbed]
    client = MlflowClient(tracking_uri)
    assert client.get_run(mlflow_ids(receipt)[1]).info.run_name == scrubbed
    assert read_wandb_offline(cli_run["out"] / "wandb")["name"] == scrubbed
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiment_ids=experiments)
    assert len(runs) >= 2
    for run in runs:
        logged = str(run.data.params) + str(run.data.tags) + run.info.run_name
        assert not any(secret in logged for secret in secrets.values())
    # Every byte written: receipts, event files, W&B run files, logs and staged artifacts, the
    # sqlite store, artifacts.
    files = [p for root in (session_dir, wandb_home) for p in root.rglob("*") if p.is_file()]
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


def test_readback_matrix_compares_values_not_only_names(same_seed_run, tracking_uri, monkeypatch):
    from model_tracking import figures

    real = figures.read_tensorboard

    def one_value_wrong(logdir):  # every name still there, one value changed
        record = real(logdir)
        record["hparams"] = {**record["hparams"], "lr": record["hparams"]["lr"] * 2}
        return record

    monkeypatch.setattr(figures, "read_tensorboard", one_value_wrong)
    matrix = figures.readback_matrix(same_seed_run, tracking_uri)
    assert matrix["hyperparameters"]["TensorBoard"] == "MISSING"
    assert matrix["hyperparameters"]["MLflow"] == "params"
