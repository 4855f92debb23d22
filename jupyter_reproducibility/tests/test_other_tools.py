"""The tools people already use, on the same evidence: `pytest --nbval` and nbdime's `nbdiff`.

nbval re-runs a notebook and compares each cell's stored output, as nbcheck's fresh run does:
it finds the same two cells of the trap. Without a sanitize file it also fails on a timing or an
object address, which nbcheck masks. nbdiff shows what changed between two notebook files, and
exits 0: it is a diff, not a check, and it never runs anything.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import FIXTURES, NOTEBOOKS, TOPIC
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy
from jupyter_reproducibility.make_fixture import run_session


def test_nbval_fails_the_cells_nbcheck_fails_and_the_timings_too(tmp_path, volatile_notebooks):
    trap = shutil.copy(FIXTURES / "trap_out_of_order.ipynb", tmp_path / "trap.ipynb")
    clean = shutil.copy(volatile_notebooks["in-order"], tmp_path / "volatile.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q", trap, clean],
        cwd=TOPIC,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    failed = sorted(
        Path(line.removeprefix("FAILED ").split(" - ")[0]).name
        for line in out.splitlines()
        if line.startswith("FAILED")
    )
    # nbval counts code cells from 0: its Cell 2 and Cell 5 are nbcheck's cells 5 and 10.
    assert [f for f in failed if f.startswith("trap")] == [
        "trap.ipynb::Cell 2",
        "trap.ipynb::Cell 5",
    ]
    assert f"experiment 1: test accuracy {expected_accuracy(C_EXPERIMENT_1):.3f}" in out
    assert f"experiment 1: test accuracy {expected_accuracy(C_EXPERIMENT_2):.3f}" in out
    # a clean run's timing, object address, progress bar and date: nbcheck masks the first three
    assert [f for f in failed if f.startswith("volatile")] == [
        f"volatile.ipynb::Cell {n}" for n in (1, 2, 3, 4)
    ]


def test_nbdiff_shows_the_changed_outputs_and_exits_0(tmp_path: Path) -> None:
    top_to_bottom = run_session(
        NOTEBOOKS / "trap.ipynb", [(n, "run all") for n in (2, 4, 5, 7, 8, 10)], verbose=False
    )
    fresh = tmp_path / "fresh.ipynb"
    nbformat.write(top_to_bottom, fresh)
    stored = FIXTURES / "trap_out_of_order.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "nbdime", "diff", "--no-color", "--no-git", "-o", stored, fresh],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr  # a diff, not a verdict
    out = result.stdout
    acc_1, acc_2 = expected_accuracy(C_EXPERIMENT_1), expected_accuracy(C_EXPERIMENT_2)
    assert "## modified /cells/4/outputs/0/text:" in out  # cells counted from 0: nbcheck's 5
    assert f"< experiment 1: test accuracy {acc_2:.3f}" in out  # stored
    assert f"> experiment 1: test accuracy {acc_1:.3f}" in out  # fresh
    assert "## modified /cells/9/outputs/0/text:" in out
    assert out.count("## modified") == 2
