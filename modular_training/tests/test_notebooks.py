"""Every notebook executes top to bottom (in its own kernel, started in the background by conftest)."""

import pytest
from conftest import NOTEBOOKS


def test_there_are_four_notebooks():
    assert [nb.stem[:2] for nb in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_executes(notebook, jobs):
    rc, stdout, stderr = jobs[notebook.stem].result()
    assert rc == 0, stderr[-3000:]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(notebook):
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
