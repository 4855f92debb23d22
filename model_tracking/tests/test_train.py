"""The training script: it learns, writes a complete receipt, is deterministic, rejects bad input."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from model_tracking.receipt import TOPIC_ROOT, weights_sha256
from model_tracking.server import free_port
from model_tracking.train import TrainConfig, main, run_training
from safetensors.torch import load_file

from model_tracking import train


def test_model_learns(cli_run):
    assert cli_run["receipt"]["metrics"]["test_accuracy"] >= 0.93
    assert cli_run["history"]["train_loss"][-1] < cli_run["history"]["train_loss"][0] / 5


def test_receipt_names_every_input(cli_run, artifacts):
    receipt, out = cli_run["receipt"], cli_run["out"]
    assert {p.name for p in out.iterdir()} >= artifacts
    assert receipt["seed"] == 0 and receipt["config"]["lr"] == 0.01
    assert receipt["weights_sha256"] == weights_sha256(load_file(out / "model.safetensors"))
    lock = hashlib.sha256((TOPIC_ROOT / "uv.lock").read_bytes()).hexdigest()
    assert receipt["lock_sha256"] == lock
    assert len(receipt["data_sha256"]) == 64
    assert receipt["git"] is None or len(receipt["git"]["commit"]) == 40
    assert receipt["env"]["torch"] == torch.__version__
    assert set(receipt["config"]["tracked_in"]) == {"tensorboard", "mlflow", "wandb"}


def test_same_seed_same_weights_and_metrics(cli_run, same_seed_run):
    assert same_seed_run.weights_sha256 == cli_run["receipt"]["weights_sha256"]
    assert same_seed_run.history == cli_run["history"]


def test_different_seed_differs(small_run, tmp_path):
    # Everything equal but the seed (same seed, same hash: the test above).
    other = run_training(TrainConfig(epochs=2, seed=1, out=tmp_path / "s1"))
    assert small_run.weights_sha256 != other.weights_sha256
    assert small_run.history["val_loss"] != other.history["val_loss"]


def exit_code_of(argv: list[str]) -> int:
    """main() returns the code; argparse raises SystemExit for type errors."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--tracker", "neptune"], "unknown tracker 'neptune'"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--lr", "-1"], "--lr must be in"),
        (["--epochs", "ten"], "invalid int value"),
        (["--tracker", "mlflow", "--tracking-uri", "./mlruns"], "unsupported MLflow tracking URI"),
        (["--tracker", "mlflow", "--tracking-uri", "sqlite:///no/such/dir/m.db"], "does not exist"),
        (["--seed", "-1"], "--seed must be in"),
        (
            ["--tracker", "mlflow", "--experiment", "", "--tracking-uri", "sqlite:///{tmp}/m.db"],
            "--experiment must not be empty",
        ),
        (["--out", "{tmp}/a_file/run"], "is a file, not a folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, fragment, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    out = tmp_path / "out"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = exit_code_of(["--out", str(out), *argv])  # a later --out in argv wins
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: tracking-train: ") and err.count("\n") == 1 and fragment in err
    assert not out.exists() and not (tmp_path / "m.db").exists()


def test_unreachable_server_fails_fast_before_training(tmp_path, capsys, monkeypatch):
    trained = []
    monkeypatch.setattr(train, "train_one_epoch", lambda *a, **k: trained.append(1) or (0.0, 0.0))
    # "Fast" without a stopwatch: MLflow's own HTTP client retries for minutes, and it is never
    # reached; one plain /health probe decides before any MLflow call or training.
    from mlflow.utils import rest_utils

    mlflow_requests = []

    def refuse(*args, **kwargs):
        mlflow_requests.append(args)
        raise ConnectionError("test: MLflow's retrying HTTP client was used")

    monkeypatch.setattr(rest_utils, "http_request", refuse)
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code = main(["--tracker", "mlflow", "--tracking-uri", uri, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and not mlflow_requests
    assert err.count("\n") == 1 and "unreachable" in err and uri in err
    assert not trained and not (tmp_path / "out").exists()


def test_a_crash_keeps_the_epochs_trained_so_far_and_says_where(tmp_path, monkeypatch):
    real = train.train_one_epoch
    calls = []

    def crash_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "train_one_epoch", crash_in_epoch_3)
    with pytest.raises(RuntimeError, match="simulated crash") as crash:
        run_training(TrainConfig(epochs=4, trackers=("none",), out=tmp_path / "out"))
    # A crash is not bad input: --out is not published, and nothing trained is deleted.
    [partial] = tmp_path.iterdir()
    assert partial.name.startswith("out.partial-")
    assert any(str(partial) in note for note in crash.value.__notes__)
    checkpoints = sorted(p.name for p in (partial / "checkpoints").iterdir())
    assert checkpoints == ["epoch-001.safetensors", "epoch-002.safetensors"]


def test_cli_prints_where_to_look(cli_run):
    stdout = cli_run["stdout"]
    assert "mlflow ui --backend-store-uri sqlite:///" in stdout
    assert "tensorboard --logdir" in stdout and "wandb sync" in stdout
    assert (
        json.loads(stdout.strip().splitlines()[-1])["weights_sha256"]
        == cli_run["receipt"]["weights_sha256"]
    )


def test_scrub_hides_environment_secrets(secrets):
    from model_tracking.provenance import scrub

    token = secrets["HF_TOKEN"]
    logged = scrub({"note": f"run with {token}", "argv": ["--x", token], "lr": 0.1})
    assert logged == {"note": "run with ***", "argv": ["--x", "***"], "lr": 0.1}


def test_runs_started_from_python_record_a_command_that_repeats_them(tmp_path):
    from model_tracking.run_record import equivalent_command
    from model_tracking.train import build_parser, config_from_args

    config = TrainConfig(
        epochs=3, lr=0.05, batch_size=32, hidden=16, seed=7, trackers=("mlflow", "wandb"),
        out=tmp_path / "x", tracking_uri="sqlite:///s.db", experiment="e", wandb_mode="disabled",
        register_as="r", run_name="n",
    )  # fmt: skip
    command = equivalent_command(config)
    assert command[0] == "tracking-train"
    again = config_from_args(build_parser().parse_args(command[1:]))
    assert {**vars(again), "command": None} == vars(config)
