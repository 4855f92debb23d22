"""marimo: the redefinition behind the trap is refused, and the notebook is also a plain script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, NOTEBOOKS, TOPIC, run_module
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy
from marimo_session import MarimoApp, ui_element_id

MARIMO_NOTEBOOK = NOTEBOOKS / "experiments_marimo.py"
BROKEN = FIXTURES / "marimo_redefinition.py"


def test_marimo_check_passes_the_committed_notebook() -> None:
    result = run_module("marimo", "check", str(MARIMO_NOTEBOOK))
    assert result.returncode == 0, result.stdout + result.stderr


def test_marimo_check_flags_the_redefinition() -> None:
    result = run_module("marimo", "check", str(BROKEN))
    assert result.returncode != 0
    report = result.stdout + result.stderr
    assert "multiple-definitions" in report
    assert "Variable 'C' is defined in multiple cells" in report


def run_script(path: Path) -> subprocess.CompletedProcess:
    """`python notebook.py`: a marimo notebook is an ordinary Python file."""
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)


def test_marimo_notebook_runs_as_a_script_and_prints_the_expected_values() -> None:
    result = run_script(MARIMO_NOTEBOOK)
    assert result.returncode == 0, result.stderr
    acc_1, acc_2 = expected_accuracy(C_EXPERIMENT_1), expected_accuracy(C_EXPERIMENT_2)
    assert f"experiment 1: test accuracy {acc_1:.3f}" in result.stdout
    assert f"experiment 2: test accuracy {acc_2:.3f}" in result.stdout
    assert f"1          | 0.001 | {acc_1:.3f}" in result.stdout
    assert f"2          | 1.0   | {acc_2:.3f}" in result.stdout


def test_the_broken_variant_refuses_to_run_as_a_script() -> None:
    result = run_script(BROKEN)
    assert result.returncode != 0
    assert "MultipleDefinitionError" in result.stderr
    assert "experiment 1" not in result.stdout  # refused before any cell ran


def test_moving_the_slider_reruns_its_dependants_and_only_them() -> None:
    """Reactivity in a running app: one UI change, no run request, and the table updates itself.

    A parameterised script re-run with a new value would also print the new number; what it
    cannot do is re-run *by itself*, and only the cells that read the changed value.
    """
    acc_1, acc_2 = expected_accuracy(C_EXPERIMENT_1), expected_accuracy(C_EXPERIMENT_2)
    with MarimoApp(MARIMO_NOTEBOOK, cwd=TOPIC) as app:
        slider_cell = app.cell("mo.ui.slider(")
        experiment_1, experiment_2 = app.cell("accuracy_1 = "), app.cell("accuracy_2 = ")
        table = app.cell('test accuracy"')
        first = app.first_run.outputs
        assert f"1          | 0.001 | {acc_1:.3f}" in first[table]

        # Index 3 of the slider's steps [0.001, 0.01, 0.1, 1.0]: experiment 1 now uses C = 1.0.
        after = app.set_ui_value(ui_element_id(first[slider_cell]), 3)

    assert sorted(after.ran) == sorted([experiment_1, table])  # the dependants, nothing else
    assert experiment_2 not in after.ran and slider_cell not in after.ran
    assert f"1          | 1.0   | {acc_2:.3f}" in after.outputs[table]  # recomputed, not stale
    assert f"2          | 1.0   | {acc_2:.3f}" in after.outputs[table]
