"""Checker for exercise 01: re-running experiment 1 after experiment 2 must no longer change the
table. The checker does what broke the original: in a real kernel it runs every cell, then
re-runs the cells that print experiment 1, then the table; nbcheck must then find that a fresh
top-to-bottom run gives the same outputs, and no name defined in two cells.

Run from jupyter_reproducibility/:  uv run pytest exercises/01-repair-the-trap
"""

from pathlib import Path

import nbformat
import pytest
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy
from jupyter_reproducibility.make_fixture import run_session
from jupyter_reproducibility.nbcheck import Report, check_notebook, check_redefinitions, code_cells
from jupyter_reproducibility.plumbing import (
    NotebookUnusable,
    python3_kernel_is_this_interpreter,
    read_notebook,
)

HERE = Path(__file__).parent
NOTEBOOK = HERE / "trap.ipynb"


def printed(nb) -> str:
    return "".join(o.get("text", "") for _, c in code_cells(nb) for o in c.get("outputs", []))


def test_rerunning_experiment_1_cannot_change_the_table(tmp_path: Path) -> None:
    try:
        nb = read_notebook(NOTEBOOK)
    except NotebookUnusable as exc:
        pytest.fail(f"cannot read your notebook: {exc}", pytrace=False)
    report = Report(NOTEBOOK)
    check_redefinitions(nb, report)
    if report.warnings:
        warning = next(line for line in report.lines if "defined in cells" in line).strip()
        pytest.fail(
            f"nbcheck still warns: {warning.removeprefix('warn').strip()}. Hint: give each "
            "experiment its own name for its parameter (or pass it to a function).",
            pytrace=False,
        )
    cells = [number for number, _ in code_cells(nb)]
    experiment_1 = [n for n, cell in code_cells(nb) if "experiment 1" in cell.source]
    if not experiment_1:
        pytest.fail("keep the cell that prints 'experiment 1: test accuracy ...'", pytrace=False)

    # The session that broke the original: everything, then experiment 1 again, then the table.
    python3_kernel_is_this_interpreter(tmp_path / "jupyter")
    session = [(n, "run all") for n in cells] + [(n, "re-run") for n in experiment_1]
    replayed = run_session(NOTEBOOK, [*session, (cells[-1], "the table")], verbose=False)
    saved = tmp_path / "after_the_session.ipynb"
    nbformat.write(replayed, saved)

    report = check_notebook(saved)
    if report.failures:
        shown = "\n".join(
            line for line in report.lines if line.startswith("  FAIL") or "  -" in line
        )
        pytest.fail(
            "after re-running experiment 1 and the table, a fresh top-to-bottom run gives other "
            f"outputs:\n{shown}\nHint: which value does experiment 1 read when it runs again?",
            pytrace=False,
        )
    for number, C in ((1, C_EXPERIMENT_1), (2, C_EXPERIMENT_2)):
        expected = f"experiment {number}: test accuracy {expected_accuracy(C):.3f}"
        if expected not in printed(replayed):
            pytest.fail(f"the notebook should still print '{expected}' (C = {C})", pytrace=False)
    _, last = code_cells(replayed)[-1]
    table = "".join(out.get("text", "") for out in last.outputs)
    for C in (C_EXPERIMENT_1, C_EXPERIMENT_2):
        if f"{expected_accuracy(C):.3f}" not in table:
            pytest.fail(
                f"the table should report {expected_accuracy(C):.3f} for C = {C}", pytrace=False
            )
