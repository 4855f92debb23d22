"""Checker for exercise 03: `papermill -p C 0.001` and `-p C 1.0` each run your notebook with
that C, in a fresh kernel, and print that C's accuracy (computed here afresh).

Run from jupyter_reproducibility/:  uv run pytest exercises/03-papermill-parameters
"""

from pathlib import Path

import nbformat
import papermill
import pytest
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy
from jupyter_reproducibility.plumbing import python3_kernel_is_this_interpreter

HERE = Path(__file__).parent
NOTEBOOK = HERE / "experiment.ipynb"


def test_papermill_parameter_sets_the_experiment(tmp_path: Path) -> None:
    python3_kernel_is_this_interpreter(tmp_path / "jupyter")
    # Two values: a notebook that merely hard-codes one of them cannot pass both.
    for C in (C_EXPERIMENT_1, C_EXPERIMENT_2):
        out = tmp_path / f"C{C}.ipynb"
        try:
            papermill.execute_notebook(
                NOTEBOOK, out, parameters={"C": C}, kernel_name="python3", progress_bar=False
            )
        except papermill.PapermillExecutionError as exc:
            pytest.fail(
                f"your notebook fails under papermill: {exc.ename}: {exc.evalue}", pytrace=False
            )
        executed = nbformat.read(out, as_version=4)
        printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
        expected = f"{expected_accuracy(C):.3f}"
        if expected not in printed:
            pytest.fail(
                f"papermill -p C {C} should print test accuracy {expected}; your notebook printed:\n"
                f"{printed.strip()}\nHint: papermill injects its values right after the cell "
                "tagged `parameters`; is there such a cell, and does nothing after it set C again?",
                pytrace=False,
            )
