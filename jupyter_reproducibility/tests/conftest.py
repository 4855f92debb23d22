"""Shared paths and the expensive things (kernel runs), started once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
SRC = TOPIC / "src"
NOTEBOOKS = TOPIC / "notebooks"
FIXTURES = TOPIC / "fixtures"

# Subprocesses and notebook kernels (kernel "python3" = this interpreter) must import the package
# even where it is not installed (`--env current`): put src/ on their path, once.
if str(SRC) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(SRC), os.environ.get("PYTHONPATH")])
    )

# Tiny matrices: BLAS threads only fight each other (and the kernels) for the two cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def run_module(*args: str, cwd: Path = TOPIC, timeout: int = 300) -> subprocess.CompletedProcess:
    """Start a CLI the way the root runner can: `python -m <module>`, never a console script."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session", autouse=True)
def python3_kernel_is_this_interpreter(tmp_path_factory) -> None:
    """Make kernel "python3" start *this* interpreter, even where a cluster or a user installed
    another "python3" kernelspec (JUPYTER_PATH is searched before every other kernel folder)."""
    from ipykernel.kernelspec import write_kernel_spec

    jupyter_path = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(jupyter_path / "kernels" / "python3")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(jupyter_path), os.environ.get("JUPYTER_PATH")])
    )


@pytest.fixture(scope="session")
def fixture_check() -> subprocess.CompletedProcess:
    """`nbcheck` on the stored out-of-order notebook (one fresh kernel), shared by several tests."""
    # A relative path, as the README types it, so the README's copy of the output can be checked.
    return run_module("jupyter_reproducibility.nbcheck", "fixtures/trap_out_of_order.ipynb")
