"""marimo: the redefinition behind the trap is refused, and the notebook is also a plain script."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, NOTEBOOKS, run_module
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy

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


def load_app():
    spec = importlib.util.spec_from_file_location("experiments_marimo", MARIMO_NOTEBOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def test_changing_a_parameter_recomputes_its_dependants() -> None:
    """What the editor does on every edit: cells reading a changed name run again with it."""
    _, defs = load_app().run(defs={"C_experiment_1": C_EXPERIMENT_2})
    assert defs["accuracy_1"] == expected_accuracy(C_EXPERIMENT_2)  # recomputed, not stale
    assert defs["accuracy_2"] == expected_accuracy(C_EXPERIMENT_2)
