"""papermill runs one experiment per parameter value; jupytext pairs it; nbstripout keeps it clean."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from conftest import FIXTURES, NOTEBOOKS, TOPIC, run_module
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy

EXPERIMENT = NOTEBOOKS / "experiment.ipynb"


def papermill_command(C: float, out: Path) -> list[str]:
    """The command a learner types (the README's), with this run's C and output folder."""
    notebook_out = str(out / "experiment.ipynb")
    return ["papermill", "notebooks/experiment.ipynb", notebook_out, "--inject-paths"] + [
        *("-p", "C", str(C)),
        *("-p", "out", str(out)),
    ]


@pytest.fixture(scope="module")
def papermill_runs(tmp_path_factory) -> dict[float, Path]:
    """Two papermill runs of the same notebook from the command line, each with its own C."""
    base = tmp_path_factory.mktemp("papermill")
    runs = {}
    for C in (C_EXPERIMENT_1, C_EXPERIMENT_2):
        out = base / f"C{C}"
        out.mkdir()  # papermill writes into an existing folder only
        result = run_module(*papermill_command(C, out), "--no-progress-bar")
        assert result.returncode == 0, result.stderr
        runs[C] = out
    return runs


def test_receipt_records_the_real_command_and_library_versions(papermill_runs) -> None:
    """The command comes from papermill's own record of the run, `metadata.papermill` of the
    executed copy (input, output, -p parameters): read here from that file, and equal to what
    was typed (the progress-bar flag aside: papermill does not record it)."""
    out = papermill_runs[C_EXPERIMENT_1]
    receipt = json.loads((out / "run.json").read_text())
    record = nbformat.read(out / "experiment.ipynb", as_version=4).metadata.papermill
    assert record.input_path == "notebooks/experiment.ipynb"
    assert record.output_path == str(out / "experiment.ipynb")
    assert record.parameters["C"] == C_EXPERIMENT_1 and record.parameters["out"] == str(out)
    assert receipt["command"] == papermill_command(C_EXPERIMENT_1, out)
    assert receipt["rerun"] is None  # `-p out` is not an --out option: verify cannot redo it
    assert receipt["env"]["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert receipt["env"]["papermill"] == importlib.metadata.version("papermill")


@pytest.mark.parametrize("C", [C_EXPERIMENT_1, C_EXPERIMENT_2])
def test_papermill_parameter_gives_the_expected_result(papermill_runs, C: float) -> None:
    out = papermill_runs[C]
    receipt = json.loads((out / "run.json").read_text())
    assert receipt["config"]["C"] == C
    assert receipt["metrics"]["test_accuracy"] == pytest.approx(expected_accuracy(C), abs=1e-12)
    executed = nbformat.read(out / "experiment.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f"C = {C}" in injected[0].source
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert f"C={C}: test accuracy {expected_accuracy(C):.3f}" in printed


def test_two_parameter_values_give_two_results(papermill_runs) -> None:
    receipts = [json.loads((out / "run.json").read_text()) for out in papermill_runs.values()]
    assert receipts[0]["metrics"]["test_accuracy"] < receipts[1]["metrics"]["test_accuracy"] - 0.05
    assert receipts[0]["weights_sha256"] != receipts[1]["weights_sha256"]
    assert receipts[0]["data_sha256"] == receipts[1]["data_sha256"]  # same data, different C


def test_jupytext_pair_is_in_sync() -> None:
    """The .py is what reviewers read and diff; it must say exactly what the .ipynb says."""
    from_py = jupytext.read(NOTEBOOKS / "experiment.py")
    from_ipynb = nbformat.read(EXPERIMENT, as_version=4)
    assert from_ipynb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert [(c.cell_type, c.source) for c in from_py.cells] == [
        (c.cell_type, c.source) for c in from_ipynb.cells
    ]
    assert from_py.cells[1].metadata.get("tags") == ["parameters"]  # papermill finds it in both


def test_committed_notebooks_are_stripped() -> None:
    notebooks = sorted(str(p) for p in NOTEBOOKS.glob("*.ipynb"))
    result = run_module("nbstripout", "--verify", *notebooks)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nbstripout_removes_outputs_and_counts(tmp_path: Path) -> None:
    copy = tmp_path / "trap_out_of_order.ipynb"
    shutil.copy(FIXTURES / "trap_out_of_order.ipynb", copy)
    assert run_module("nbstripout", "--verify", str(copy)).returncode != 0  # would change it
    assert run_module("nbstripout", str(copy)).returncode == 0
    stripped = nbformat.read(copy, as_version=4)
    code = [c for c in stripped.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_pre_commit_strips_notebooks_but_keeps_the_fixtures() -> None:
    config = yaml.safe_load((TOPIC / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in config["repos"] for h in repo["hooks"] if h["id"] == "nbstripout"]
    exclude = re.compile(hook["exclude"])
    assert exclude.search("fixtures/trap_out_of_order.ipynb")
    assert exclude.search("jupyter_reproducibility/fixtures/trap_out_of_order.ipynb")
    assert not exclude.search("notebooks/trap.ipynb")


@pytest.mark.verifies("papermill")
def test_verify_refuses_a_papermill_receipt_in_one_line(papermill_runs) -> None:
    """papermill's `-p out` is a notebook parameter, not an --out option: verify says so, once."""
    receipt = papermill_runs[C_EXPERIMENT_1] / "run.json"
    result = run_module("jupyter_reproducibility.receipt", "verify", str(receipt))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "rerun is null" in lines[0]
