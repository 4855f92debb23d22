"""The notebooks run top to bottom (their cells assert what they claim) in a scratch folder, on
the kernel the README's JupyterHub command registers (so that command is proven here too)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03"]
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_the_topic_kernel(path, tmp_path, topic_kernel):
    notebook = nbformat.read(path, as_version=4)
    # One more cell, added to this copy only: which interpreter the kernel really ran.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    # The kernel inherits PYTHONPATH from conftest.py, so it imports model_tracking from src/.
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name=topic_kernel.name,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    assert (tmp_path / "outputs").is_dir()
    assert notebook.cells[-1].outputs[0]["text"].strip() == sys.executable
