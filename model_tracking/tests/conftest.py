"""Shared fixtures: one full CLI run with every tracker, one real MLflow server per session.

Fresh Python processes cost seconds (torch, mlflow imports), so the expensive things happen
once per session and many small tests read their results.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
SRC = TOPIC / "src"

# Subprocesses and notebook kernels must import the package even where it is not installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
os.environ["WANDB_MODE"] = "offline"  # never reach the network from tests
os.environ["WANDB_SILENT"] = "true"
os.environ["MPLBACKEND"] = "Agg"
# W&B stages artifact files (and keeps caches and logs) in the home folder; keep them here,
# where the secrets test searches them too.
WANDB_HOME = Path(tempfile.mkdtemp(prefix="wandb-home-"))
for name in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
    os.environ[name] = str(WANDB_HOME / name.lower())

# Known dummy credentials, random per session (so they cannot be found in source files or
# a git diff by accident). Every test output is later searched for them.
SECRETS = {
    "WANDB_API_KEY": f"wandb-dummy-{uuid.uuid4().hex}",
    "HF_TOKEN": f"hf_dummy{uuid.uuid4().hex}",
    "MLFLOW_TRACKING_PASSWORD": f"mlflow-dummy-{uuid.uuid4().hex}",
}
os.environ.update(SECRETS)

EPOCHS = 8


def server_unsupported() -> str | None:
    """Why a real `mlflow server` cannot be started and stopped here, or None."""
    # `tracking-server` stops the server's whole process group (os.killpg, POSIX only); on
    # Windows the learner stops it with Ctrl-C, and the tests that start and stop one cannot run.
    if sys.platform == "win32":
        return (
            "a real mlflow server is stopped as a POSIX process group (os.killpg): not on Windows"
        )
    try:  # the server listens on 127.0.0.1: is there a loopback network at all?
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            socket.create_connection(listener.getsockname(), timeout=5).close()
    except OSError as exc:
        return (
            f"no loopback network here (127.0.0.1: {exc.strerror}); in a fresh network "
            "namespace (unshare -n) run `ip link set lo up` first"
        )
    return None


RUN_NAME_PREFIX = "token-pasted-"


# GPU tests: without a usable GPU they skip with a reason, unless the root runner's --gpu=on
# (ML_REPRO_GPU=on) says they must run; then each fails, naming why. What this run saw goes to
# ML_REPRO_DEVICE_FILE, the root matrix's device column.
GPU_MISSING = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: no server when no server test runs
def pytest_collection_modifyitems(config, items):
    import torch

    usable = torch.cuda.is_available()
    if os.environ.get("ML_REPRO_DEVICE_FILE"):
        Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cuda" if usable else "cpu")
    if not usable:
        for item in items:
            if "gpu" in item.keywords:
                if os.environ.get("ML_REPRO_GPU") == "on":
                    item.stash[GPU_MISSING] = "needs a CUDA GPU"
                else:
                    item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
    needs_server = [i for i in items if "mlflow_server" in getattr(i, "fixturenames", ())]
    unsupported = server_unsupported() if needs_server else None
    if unsupported:  # before anything is started
        for item in needs_server:
            item.add_marker(pytest.mark.skip(reason=unsupported))
        return
    # `mlflow server` needs 30-60 s to come up: start it now, while the other tests run.
    if needs_server:
        from model_tracking.server import start_server

        config._mlflow_server_root = Path(tempfile.mkdtemp(prefix="mlflow-server-"))
        config._mlflow_server = start_server(config._mlflow_server_root)


def pytest_runtest_setup(item):
    if (why := item.stash.get(GPU_MISSING, None)) is not None:
        pytest.fail(f"--gpu=on: this gpu test must run, but {why}", pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(WANDB_HOME, ignore_errors=True)
    server = getattr(session.config, "_mlflow_server", None)
    if server is not None:
        from model_tracking.server import stop_server

        stop_server(server)
        shutil.rmtree(session.config._mlflow_server_root, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(request):
    """The session's real `mlflow server` on 127.0.0.1, healthy."""
    from model_tracking.server import wait_until_healthy

    server = getattr(request.config, "_mlflow_server", None)
    if server is None:
        pytest.fail("mlflow server was not started at collection")
    wait_until_healthy(server, timeout_s=240)
    return server


@pytest.fixture(scope="session")
def topic_kernel(tmp_path_factory) -> Path:
    """The README's JupyterHub command, run once into a scratch Jupyter folder: the kernel's dir."""
    data = tmp_path_factory.mktemp("jupyter")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_DATA_DIR", "JUPYTER_PATH")}
    os.environ.update(JUPYTER_DATA_DIR=str(data), JUPYTER_PATH=str(data))
    command = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", "model_tracking",
               "--display-name", "model_tracking (uv)"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    yield data / "kernels" / "model_tracking"
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def artifacts() -> set[str]:
    """The files every run must leave, named here (not imported from the code under test)."""
    return {
        "training_curve.png",
        "model_summary.txt",
        "model.safetensors",
        "history.json",
        "run.json",
    }


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    return dict(SECRETS)


@pytest.fixture(scope="session")
def wandb_home() -> Path:
    return WANDB_HOME


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tracking")


@pytest.fixture(scope="session")
def tracking_uri(session_dir) -> str:
    return f"sqlite:///{session_dir / 'mlflow.db'}"


@pytest.fixture(scope="session")
def cli_run(session_dir, tracking_uri) -> dict:
    """The CLI as a learner runs it, in a fresh process, with every tracker at once.

    A learner pasted a token into the command line (the run name, a config value): it is the
    HF_TOKEN of the environment, so `scrub` must catch it on every path to a record.
    """
    out = session_dir / "run_a"
    command = [
        sys.executable, "-m", "model_tracking.train",
        "--tracker", "none", "tensorboard", "mlflow", "wandb",
        "--epochs", str(EPOCHS), "--seed", "0",
        "--out", str(out), "--tracking-uri", tracking_uri,
        "--run-name", f"{RUN_NAME_PREFIX}{SECRETS['HF_TOKEN']}",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=session_dir, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    receipt = json.loads((out / "run.json").read_text())
    history = json.loads((out / "history.json").read_text())
    return {
        "out": out,
        "receipt": receipt,
        "history": history,
        "seconds": seconds,
        "stdout": proc.stdout,
    }


@pytest.fixture(scope="session")
def same_seed_run(session_dir, tracking_uri):
    """The same command again (in this process, to save start-up time): must match bit for bit."""
    from model_tracking.train import TrainConfig, run_training

    return run_training(
        TrainConfig(
            epochs=EPOCHS,
            seed=0,
            trackers=("none", "tensorboard", "mlflow", "wandb"),
            out=session_dir / "run_b",
            tracking_uri=tracking_uri,
        )
    )


@pytest.fixture(scope="session")
def small_run(session_dir):
    """Two epochs, no tracker, seed 0, in this process: the determinism and verify tests' run."""
    from model_tracking.train import TrainConfig, run_training

    return run_training(TrainConfig(epochs=2, seed=0, out=session_dir / "small"))


@pytest.fixture(scope="session")
def grid_run(tmp_path_factory):
    """`tracking-sklearn` once, in this process; its receipt names the command a learner types
    for the same run (in this process the command line would be pytest's), so verify re-runs it."""
    from model_tracking import sklearn_autolog

    tmp = tmp_path_factory.mktemp("sklearn")
    uri, out = f"sqlite:///{tmp / 'mlflow.db'}", tmp / "out"
    typed = ["tracking-sklearn", "--tracking-uri", uri, "--out", str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sklearn_autolog, "command_line", lambda: typed)
        return uri, sklearn_autolog.run_grid(uri, "digits-sklearn", seed=0, out=out)
