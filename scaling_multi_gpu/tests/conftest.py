"""Shared test set-up: make `scaling_multi_gpu` importable by subprocesses; skip GPU tests without CUDA."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TOPIC_ROOT = Path(__file__).resolve().parents[1]
SRC = str(TOPIC_ROOT / "src")
# Subprocesses (torchrun workers, Slurm jobs) must import the package even where it is not installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
if SRC not in sys.path:
    sys.path.insert(0, SRC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from scaling_multi_gpu.hwinfo import cuda_status

    if not any("gpu" in item.keywords for item in items):
        return
    usable, why = cuda_status()  # "no GPU" and "torch cannot use the GPU (...)" differ on purpose
    if usable:
        return
    skip = pytest.mark.skip(reason=f"needs a CUDA GPU: {why}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def equivalence_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The headline demo: one reference run + ONE 2-process torchrun launch of every strategy."""
    import json

    from scaling_multi_gpu import demo

    out = tmp_path_factory.mktemp("equivalence")
    assert demo.main(["--out", str(out), "--steps", "30"]) == 0
    return out, json.loads((out / "equivalence.json").read_text())


@pytest.fixture(scope="session")
def local_slurm():
    """A real single-node Slurm on localhost for this session (see local_slurm.py)."""
    import shutil
    import tempfile

    from local_slurm import LocalSlurm, missing_binaries

    if sys.platform != "linux":  # also under CI=true: a macOS or Windows runner has no Slurm
        pytest.skip(f"needs Linux: Slurm, munge and unshare do not run on {sys.platform}")
    missing = missing_binaries()
    if missing:
        message = f"needs Slurm and munge (apt-get install slurmctld slurmd slurm-client munge); missing: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true the Slurm tests must run: {message}")
        pytest.skip(message)
    root = Path(
        tempfile.mkdtemp(prefix="scaling-slurm-")
    )  # not pytest's tmp: munged needs a world-searchable path
    cluster = LocalSlurm(root)
    try:
        cluster.start()
    except RuntimeError:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)
