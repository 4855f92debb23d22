"""Shared test setup: make the package importable in subprocesses, keep BLAS single-threaded."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
SRC = TOPIC / "src"

# Subprocesses (`python -m overfitting.<module>`) must import the package even when it is not
# installed (the root runner's `--env current` mode): prepend src/ once, at import.
if str(SRC) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p
    )
# Small problems: one BLAS/OpenMP thread is faster on a shared machine and gives the same numbers.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")


# GPU tests: without a usable GPU they skip with a reason, unless the root runner's --gpu=on
# (ML_REPRO_GPU=on) says they must run; then each fails, naming why. What this run saw goes to
# ML_REPRO_DEVICE_FILE, the root matrix's device column.
GPU_MISSING = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """This topic has no GPU code; the marker is honoured anyway so the root runner's -m works."""
    usable = shutil.which("nvidia-smi") is not None
    if os.environ.get("ML_REPRO_DEVICE_FILE"):
        Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cuda" if usable else "cpu")
    if not usable:
        for item in items:
            if "gpu" in item.keywords:
                if os.environ.get("ML_REPRO_GPU") == "on":
                    item.stash[GPU_MISSING] = "needs a CUDA GPU"
                else:
                    item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def pytest_runtest_setup(item):
    if (why := item.stash.get(GPU_MISSING, None)) is not None:
        pytest.fail(f"--gpu=on: this gpu test must run, but {why}", pytrace=False)


@pytest.fixture
def run_module():
    """Start a demo the way the root runner can: `python -m overfitting.<module> ...`."""
    import subprocess

    def run(module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", f"overfitting.{module}", *args],
            capture_output=True,
            text=True,
            cwd=cwd or TOPIC,
            timeout=300,
        )

    return run


@pytest.fixture(autouse=True)
def _single_thread():
    """In-process runs: the same one-thread limit the CLI uses."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def capacity_run(tmp_path_factory) -> Path:
    """`of-capacity --splits 1`, run once for the session: the capacity tests check its curve and
    re-run its receipt, and test_numbers compares it with split 0 of the committed `--full` run
    (ShuffleSplit draws its splits in order, so split 0 is the same whatever the number)."""
    from threadpoolctl import threadpool_limits

    from overfitting import capacity

    out = tmp_path_factory.mktemp("capacity")
    with threadpool_limits(limits=1):
        capacity.run(["--splits", "1", "--out", str(out)])
    return out


@pytest.fixture(scope="session")
def tuning_signal_run(tmp_path_factory) -> Path:
    """`of-tuning --reps 1 --settings signal`: development set 0 of the signal setting, the slice
    test_numbers compares with the committed `--full` run; test_nested_cv re-runs its receipt."""
    from threadpoolctl import threadpool_limits

    from overfitting import nested_cv

    out = tmp_path_factory.mktemp("tuning_signal")
    with threadpool_limits(limits=1):
        nested_cv.run(["--reps", "1", "--settings", "signal", "--out", str(out)])
    return out
