"""Shared paths and the expensive things (kernel runs), started once per test session."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

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


# The root matrix's device column: this topic has no GPU code (scikit-learn and notebooks only),
# so every run of it is a CPU run, on any machine.
if os.environ.get("ML_REPRO_DEVICE_FILE"):
    Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cpu")


def run_module(*args: str, cwd: Path = TOPIC, timeout: int = 300) -> subprocess.CompletedProcess:
    """Start a CLI the way the root runner can: `python -m <module>`, never a console script."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session", autouse=True)
def python3_kernel_is_this_interpreter(tmp_path_factory) -> None:
    """Kernel "python3" is this interpreter in every test (see plumbing)."""
    from jupyter_reproducibility.plumbing import python3_kernel_is_this_interpreter

    python3_kernel_is_this_interpreter(tmp_path_factory.mktemp("jupyter"))


@pytest.fixture(scope="session")
def fixture_check() -> subprocess.CompletedProcess:
    """`nbcheck fixtures/trap_out_of_order.ipynb` (one fresh kernel), shared by several tests.

    Run in this process through the command's own `main` (the bad-input tests start it as a
    process): the claims are about what it prints and returns, not about a Python start-up."""
    from jupyter_reproducibility.nbcheck import main

    # A relative path, as the README types it, so the README's copy of the output can be checked.
    argv = ["fixtures/trap_out_of_order.ipynb"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(TOPIC), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return subprocess.CompletedProcess(["nbcheck", *argv], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def shared_fresh_runs():
    """nbcheck's restart-and-run-all, once per notebook: a stand-in for `nbcheck.run_fresh` that
    runs each distinct notebook (same cells, same folder, same kernel) in a fresh kernel once and
    hands every later check a copy of that run. Tests that check one notebook with other masks
    or flags compare against the same fresh run instead of starting a kernel each."""
    from jupyter_reproducibility import nbcheck

    real, runs = nbcheck.run_fresh, {}

    def run_fresh(nb, cwd, kernel_name, timeout):
        key = (json.dumps([c.source for c in nb.cells]), str(cwd), kernel_name)
        if key not in runs:
            runs[key] = real(nb, cwd, kernel_name, timeout)
        return nbformat.from_dict(copy.deepcopy(runs[key]))

    return run_fresh


def notebook(*cells: tuple[str, int | None, str | None]) -> nbformat.NotebookNode:
    """A notebook from (source, execution_count, printed text) triples; '#'-only = markdown."""
    built = []
    for source, count, printed in cells:
        if source.startswith("#"):
            built.append(new_markdown_cell(source))
            continue
        outputs = [new_output("stream", name="stdout", text=printed)] if printed else []
        built.append(new_code_cell(source, execution_count=count, outputs=outputs))
    return new_notebook(
        cells=built, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )


# A clean notebook whose outputs change in every run: a timing, an object address, a progress
# bar, and a date (which only --ignore can mask).
VOLATILE_CELLS = [
    "import datetime\nimport time\n\nfrom tqdm import tqdm",
    "started = time.perf_counter()\ntotal = sum(i * i for i in range(100_000))\n"
    'print(f"sum {total} took {time.perf_counter() - started:.4f} s")',
    "print(object())",
    "for _ in tqdm(range(3)):\n    time.sleep(0.05)",
    'print("made on", datetime.datetime.now())',
]
DATE = r"\d{4}-\d\d-\d\d [0-9:.]+"


@pytest.fixture(scope="session")
def volatile_notebooks(tmp_path_factory) -> dict[str, Path]:
    """The same notebook saved after two real sessions: run top to bottom, and run top to
    bottom then the import cell once more at the end (out of order, but nothing changes)."""
    from jupyter_reproducibility.make_fixture import run_session

    folder = tmp_path_factory.mktemp("volatile")
    clean = folder / "clean.ipynb"
    nbformat.write(notebook(*((source, None, None) for source in VOLATILE_CELLS)), clean)
    in_order = [(n, "run") for n in range(1, len(VOLATILE_CELLS) + 1)]
    paths = {}
    for name, session in {"in-order": in_order, "import-again": [*in_order, (1, "again")]}.items():
        paths[name] = folder / f"{name}.ipynb"
        nbformat.write(run_session(clean, session, verbose=False), paths[name])
    return paths
