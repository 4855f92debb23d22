"""The notebooks: each is its gallery script (`notebooks/*.py`) converted by jupytext, committed
without outputs, and runs top to bottom showing its tables and its figure.

All seven run in ONE kernel (one start-up, imports shared), separated by `%reset -f` so that no
notebook leans on another's variables; each at the size its `parameters` cell sets.
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

TOPIC = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((TOPIC / "notebooks").glob("*.py"))
EXPERIMENTS = {
    "capacity",
    "leakage",
    "reusable_holdout",
    "ladder",
    "seed_lottery",
    "nested_cv",
    "replicability",
}


def code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_one_notebook_per_experiment():
    assert {p.stem for p in NOTEBOOKS} == EXPERIMENTS


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_is_its_script_and_has_no_outputs(script):
    """Regenerate with `uv run jupytext --to ipynb notebooks/*.py`."""
    stored = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    converted = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in converted.cells
    ], f"{script.name} and its .ipynb differ: rerun jupytext"
    assert all(not c.get("outputs") and not c.get("execution_count") for c in code_cells_of(stored))
    tags = [c.metadata.get("tags", []) for c in stored.cells]
    assert sum("parameters" in t for t in tags) == 1  # one cell sets the size


def code_cells_of(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, list]:
    """Every notebook's code cells, executed in order in one kernel; their outputs by notebook."""
    combined = nbformat.v4.new_notebook()
    spans = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
        combined.cells.append(nbformat.v4.new_code_cell("%reset -f"))
        start = len(combined.cells)
        combined.cells += code_cells_of(nb)
        spans[path.stem] = (start, len(combined.cells))
    cwd = tmp_path_factory.mktemp("notebooks")
    # conftest.py sets MPLBACKEND=Agg for the tests; the kernel must keep Jupyter's inline backend
    # to show figures, as it does for a learner.
    backend = os.environ.pop("MPLBACKEND", None)
    try:
        NotebookClient(combined, timeout=600, resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
    assert list(cwd.iterdir()) == []  # the notebooks write nothing
    return {name: combined.cells[a:b] for name, (a, b) in spans.items()}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_each_notebook_prints_its_table_and_shows_its_figure(executed, name):
    cells = executed[name]
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "|---|" in printed or "[[" in printed, printed[:500]  # a Markdown table (or the grid)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, f"{name}: {len(images)} figures"
    assert cells[-1].outputs == images  # the figure is the last cell's result
