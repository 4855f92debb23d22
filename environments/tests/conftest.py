"""Shared test setup: the package importable in subprocesses and notebook kernels, GPU skips."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
SRC = TOPIC / "src"

# Subprocesses and notebook kernels must import `environments` even when it is not installed
# (the root runner's `--env current` mode): put src/ on their path once, here.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in [str(SRC), os.environ.get("PYTHONPATH", "")] if p
)
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

EXAMPLE = TOPIC / "example_project"

# Proxies pointing at a closed local port: any attempt to reach a package index fails loudly,
# so a test run with these proves the demo is offline (uv honours these variables).
NO_NETWORK = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
}
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="needs the uv binary on PATH")


# GPU tests: without a usable GPU they skip with a reason, unless the root runner's --gpu=on
# (ML_REPRO_GPU=on) says they must run; then each fails, naming why. What this run saw goes to
# ML_REPRO_DEVICE_FILE, the root matrix's device column.
GPU_MISSING = pytest.StashKey[str]()


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return shutil.which("nvidia-smi") is not None
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    usable = cuda_available()
    if os.environ.get("ML_REPRO_DEVICE_FILE"):
        Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cuda" if usable else "cpu")
    if usable:
        return
    for item in items:
        if "gpu" in item.keywords:
            if os.environ.get("ML_REPRO_GPU") == "on":
                item.stash[GPU_MISSING] = "needs a CUDA GPU"
            else:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def pytest_runtest_setup(item):
    if (why := item.stash.get(GPU_MISSING, None)) is not None:
        pytest.fail(f"--gpu=on: this gpu test must run, but {why}", pytrace=False)


def copy_example(dest: Path) -> Path:
    """A throwaway copy of the example project (no .venv), safe to edit in a test."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.sif"))
    return dest


@pytest.fixture(scope="session")
def locked_example_env(tmp_path_factory) -> Path:
    """The example project's environment built from its uv.lock alone (offline, from uv's
    cache): the packages the container images hold. Its python, or a skip that says why not."""
    from environments.plumbing import BadInput
    from environments.undeclared import build_locked_env, copy_project

    if shutil.which("uv") is None:
        pytest.skip("needs the uv binary on PATH")
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("locked-example"))
    try:
        return build_locked_env(project)
    except BadInput as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(
            f"uv's cache lacks a wheel of example_project/uv.lock ({exc}); `uv sync` in this "
            "topic with Python 3.11 fills it, or run `uv sync` once in example_project/"
        )


KERNEL_COMMAND = "uv run python -m ipykernel install --user --name environments"


@pytest.fixture(scope="session")
def topic_kernel(tmp_path_factory):
    """The README's JupyterHub command, run with this interpreter into a temporary Jupyter data
    folder (not the user's): yields that folder while the kernel "environments" is findable."""
    import subprocess

    data = tmp_path_factory.mktemp("jupyter")
    install = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", "environments"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_DATA_DIR", str(data))
        patch.setenv("JUPYTER_PATH", str(data))
        done = subprocess.run(
            [*install, "--display-name", "environments (uv)"], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        yield data


def run_module(module: str, *args: str, env: dict | None = None, cwd: Path | None = None):
    """Run `python -m <module> ...` as a learner would, with the current interpreter."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
