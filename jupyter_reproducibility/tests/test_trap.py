"""The trap: the stored out-of-order notebook reports a result a fresh run does not give."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import FIXTURES, NOTEBOOKS, TOPIC
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy
from jupyter_reproducibility.make_fixture import NATURAL_SESSION, main, run_session
from jupyter_reproducibility.nbcheck import DIFFERS
from jupyter_reproducibility.plots import stored_accuracies

FIXTURE = FIXTURES / "trap_out_of_order.ipynb"


def cells_as_run(nb: nbformat.NotebookNode) -> list[tuple[str, int | None, list]]:
    """What matters in a saved notebook: source, execution count and outputs of each cell."""
    return [(c.source, c.get("execution_count"), c.get("outputs", [])) for c in nb.cells]


def test_fixture_is_the_clean_notebook_run_out_of_order() -> None:
    clean = nbformat.read(NOTEBOOKS / "trap.ipynb", as_version=4)
    stored = nbformat.read(FIXTURE, as_version=4)
    assert [c.source for c in clean.cells] == [c.source for c in stored.cells]
    counts = [c.execution_count for c in stored.cells if c.cell_type == "code"]
    assert counts == [1, 2, 6, 4, 5, 7]  # experiment 1 re-run after experiment 2


def test_stored_result_differs_from_a_fresh_computation() -> None:
    stored = stored_accuracies(nbformat.read(FIXTURE, as_version=4))
    fresh_1 = expected_accuracy(C_EXPERIMENT_1)
    fresh_2 = expected_accuracy(C_EXPERIMENT_2)
    # Experiment 1 was re-run with experiment 2's C: the stored number is experiment 2's.
    assert stored[1] == pytest.approx(fresh_2, abs=5e-4)
    assert abs(stored[1] - fresh_1) > 0.05
    assert stored[2] == pytest.approx(fresh_2, abs=5e-4)  # experiment 2 itself is fine


def test_numbers_quoted_in_readme_and_slides_are_the_fresh_results() -> None:
    """README.md and slides.md quote the accuracies; they must be what the code gives now."""
    acc_1, acc_2 = expected_accuracy(C_EXPERIMENT_1), expected_accuracy(C_EXPERIMENT_2)
    readme = (TOPIC / "README.md").read_text(encoding="utf-8")
    slides = (TOPIC / "slides.md").read_text(encoding="utf-8")
    assert f"C={C_EXPERIMENT_1}: test accuracy {acc_1:.3f}" in readme
    assert f"C={C_EXPERIMENT_2}: test accuracy {acc_2:.3f}" in readme
    assert f"Top to bottom, experiment 1 gives **{acc_1:.3f}**" in slides
    assert f"and the paper says {acc_2:.3f}" in slides


def test_nbcheck_reports_the_fixture(fixture_check) -> None:
    out = fixture_check.stdout
    assert fixture_check.returncode == DIFFERS, fixture_check.stderr
    # warnings: the re-run cell, the run that left no trace, the name defined twice
    assert "cell 5 [6]" in out and "was run after cells below it: cell 7 [4], cell 8 [5]" in out
    assert "count(s) 3 missing" in out
    assert "run [3] was probably cell 5 (between cell 4 [2] and cell 7 [4])" in out
    assert "`C` is defined in cells 4, 7" in out
    # failures: exactly the two cells whose outputs a fresh run changes, with the numbers
    changed = [line for line in out.splitlines() if "output differs in a fresh run" in line]
    assert len(changed) == 2
    assert changed[0].strip().startswith("FAIL  cell 5 [6]")
    assert changed[1].strip().startswith("FAIL  cell 10 [7]")
    assert f"-experiment 1: test accuracy {expected_accuracy(C_EXPERIMENT_2):.3f}" in out
    assert f"+experiment 1: test accuracy {expected_accuracy(C_EXPERIMENT_1):.3f}" in out
    assert "result: 2 failure(s), 3 warning(s)" in out


def test_readme_shows_what_nbcheck_prints_on_the_fixture(fixture_check) -> None:
    """The README's "What you should see" block is nbcheck's real output (timing aside)."""
    readme = (TOPIC / "README.md").read_text(encoding="utf-8")
    block = readme.split("`uv run nbcheck fixtures/trap_out_of_order.ipynb`:\n\n```\n", 1)[1]
    block = block.split("```", 1)[0]
    mask = re.compile(r"top to bottom, [0-9.]+ s")
    assert mask.sub("", block).strip() == mask.sub("", fixture_check.stdout).strip()


# Both experiments' accuracies and fitted weights, and which OpenBLAS kernels computed them:
# run here and in a child process with other kernels (only scikit-learn imported there).
MEASURE = f"""
import json
from threadpoolctl import threadpool_info
from jupyter_reproducibility.experiments import load_digits_split, train_classifier
split, results = load_digits_split(), {{}}
for C in ({C_EXPERIMENT_1}, {C_EXPERIMENT_2}):
    model = train_classifier(split.X_train, split.y_train, C)
    results[str(C)] = [model.score(split.X_test, split.y_test), model.coef_.ravel().tolist()]
kernels = [lib.get("architecture") for lib in threadpool_info() if lib["internal_api"] == "openblas"]
measured = {{"kernels": kernels, "results": results}}
"""


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"),
    reason="OPENBLAS_CORETYPE=Prescott names an x86 kernel set (this CPU is not x86_64)",
)
def test_quoted_accuracies_survive_other_blas_kernels() -> None:
    """Why the docs quote accuracies exactly on every machine, and no weights hash: another CPU's
    BLAS kernels change the fitted weights' bits (about 1e-7 here), not a single prediction.

    OpenBLAS's generic SSE kernels (`Prescott`, in a child process) stand in for another CPU:
    measured on AMD EPYC (SkylakeX kernels) against Prescott, Sandybridge and Haswell, max
    |delta w| = 8.8e-08 with |w| up to 2.5; the bound 1e-5 leaves two orders of magnitude."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}  # which OpenBLAS kernels numpy calls
    cmd = [sys.executable, "-c", MEASURE + "print(json.dumps(measured))"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TOPIC, timeout=300)
    assert done.returncode == 0, done.stderr
    here: dict = {}
    exec(MEASURE, here)  # the same code, in this process, with this CPU's own kernels
    native, other = here["measured"], json.loads(done.stdout)
    if native["kernels"] == other["kernels"]:
        pytest.skip(f"this CPU's OpenBLAS kernels already are {native['kernels']}")
    for C in (C_EXPERIMENT_1, C_EXPERIMENT_2):
        (acc, weights), (acc_other, weights_other) = (
            native["results"][str(C)],
            other["results"][str(C)],
        )
        assert acc_other == acc == expected_accuracy(C)  # every prediction the same
        delta = max(abs(a - b) for a, b in zip(weights, weights_other, strict=True))
        assert 0 < delta < 1e-5, (C, delta)  # the bits differ, the model does not


@pytest.mark.slow
def test_make_fixture_rebuilds_the_stored_fixture() -> None:
    """The evidence is reproducible: rerunning the scripted session gives the same notebook."""
    rebuilt = run_session(NOTEBOOKS / "trap.ipynb", NATURAL_SESSION, verbose=False)
    assert cells_as_run(rebuilt) == cells_as_run(nbformat.read(FIXTURE, as_version=4))


@pytest.mark.parametrize("broken", ["not a notebook", "one cell"])
def test_make_fixture_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, broken: str) -> None:
    notebook = tmp_path / "in.ipynb"
    if broken == "not a notebook":
        notebook.write_text("# just text", encoding="utf-8")
    else:  # a real notebook, but the scripted session needs the trap's ten cells
        nbformat.write(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), notebook
        )
    out = tmp_path / "fixture.ipynb"
    assert main(["--notebook", str(notebook), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not out.exists()
