"""Checker for exercise 02: `marimo check` accepts your app, and run as a script it prints the
two experiments' results (0.856 for C = 0.001, 0.970 for C = 1.0, computed here afresh).

Run from jupyter_reproducibility/:  uv run pytest exercises/02-marimo-app
"""

import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy

HERE = Path(__file__).parent
APP = HERE / "experiments.py"


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def test_marimo_accepts_the_app_and_it_computes_both_results() -> None:
    checked = run(sys.executable, "-m", "marimo", "check", str(APP))
    if checked.returncode != 0:
        first = (checked.stdout + checked.stderr).strip().splitlines()[0]
        pytest.fail(
            f"marimo check still refuses the app: {first}\n"
            "Hint: marimo allows one defining cell per name. Give each experiment its own name.",
            pytrace=False,
        )
    ran = run(sys.executable, str(APP))
    if ran.returncode != 0:
        last = ran.stderr.strip().splitlines()[-1] if ran.stderr.strip() else "no message"
        pytest.fail(f"the app fails when run as a script: {last}", pytrace=False)
    for number, C in ((1, C_EXPERIMENT_1), (2, C_EXPERIMENT_2)):
        expected = f"experiment {number}: test accuracy {expected_accuracy(C):.3f}"
        if expected not in ran.stdout:
            pytest.fail(f"the app should print '{expected}' (C = {C})", pytrace=False)
