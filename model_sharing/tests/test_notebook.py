"""The notebooks run top to bottom (their cells assert the claims) and are stored without outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import needs_loopback, needs_symlinks
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", ALL, ids=[p.stem for p in ALL])
def test_notebook_is_stored_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_sharing_notebook_shows_the_library_calls_in_its_cells():
    """The calls a learner should copy are in the cells, not behind a helper of ours."""
    nb = nbformat.read(NOTEBOOKS / "01-model_sharing.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for call in (
        "torch.load(",
        "weights_only=True",
        "weights_only=False",
        "save_file(",
        "safe_open(",
    ):
        assert call in code, f"no {call} in the code cells of notebook 01"


def execute(notebook: Path, tmp_path: Path) -> nbformat.NotebookNode:
    copy = Path(shutil.copy(notebook, tmp_path / notebook.name))
    nb = nbformat.read(copy, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return nb


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@needs_loopback
@pytest.mark.slow
def test_sharing_notebook_executes(tmp_path):
    nb = execute(NOTEBOOKS / "01-model_sharing.ipynb", tmp_path)
    assert (tmp_path / "outputs" / "notebook" / "tiny-gpt2" / "tokenizer.json").is_file()
    assert "bitwise-equal logits: True" in printed(nb)


@needs_loopback
@needs_symlinks
@pytest.mark.slow
def test_reuse_notebook_executes(tmp_path):
    nb = execute(NOTEBOOKS / "02-reusing-a-model.ipynb", tmp_path)
    out = printed(nb)
    assert "refused:" in out and "do not use these bytes" in out
    assert "<- not what the paper used" in out
    assert "MistralForCausalLM 7,241,732,096 parameters" in out  # the number its text quotes
    assert "licence problems: none" in out
