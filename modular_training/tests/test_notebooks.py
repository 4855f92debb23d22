"""Every notebook executes top to bottom (in its own kernel, started in the background by conftest)
and checks what it shows with `assert` cells, so a notebook whose claim stops holding fails here.
The slide figures: committed, embedded, and the resume grid colours what it should."""

import ast

import nbformat
import pytest
from conftest import NOTEBOOKS, TOPIC


def code_cells(notebook) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_there_are_four_notebooks():
    assert [nb.stem[:2] for nb in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_checks_its_claims(notebook):
    """Executing a notebook proves something only if it asserts what it prints."""
    asserts = 0
    for source in code_cells(notebook):
        python = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
        asserts += sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(python)))
    assert asserts >= 2, f"{notebook.name} has {asserts} assert statements"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_executes(notebook, jobs):
    rc, stdout, stderr = jobs[notebook.stem].result()
    assert rc == 0, stderr[-3000:]
    assert f"executed {len(nbformat.read(notebook, as_version=4).cells)} cells" in stdout


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_slide_figures_are_committed_and_small():
    figures = {p.name: p.stat().st_size for p in (TOPIC / "figures").glob("*.png")}
    assert {"training_curve.png", "resume.png", "seeds.png"} <= set(figures)
    assert all(0 < size < 300_000 for size in figures.values()), figures
    slides = (TOPIC / "slides.md").read_text()
    assert slides.startswith("---\nmarp: true")
    for name in ("training_curve.png", "resume.png", "seeds.png"):
        assert f"figures/{name}" in slides, name


def test_resume_grid_marks_matches_and_mismatches():
    """Green 'identical' exactly where a resumed hash equals the uninterrupted one, red elsewhere."""
    from matplotlib.colors import to_hex

    from modular_training.figures import GREEN, RED, draw_resume_grid

    table = {
        ("naive", 0): {"uninterrupted": "a" * 64, "after epoch 1": "b" * 64, "mid": "a" * 64},
        ("fixed", 2): {"uninterrupted": "c" * 64, "after epoch 1": "c" * 64, "mid": "d" * 64},
    }
    ax = draw_resume_grid(table).axes[0]
    labels = [t.get_text().split()[0] for t in ax.texts]
    colours = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert labels == ["different", "identical", "identical", "different"]
    assert colours == [RED, GREEN, GREEN, RED]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["naive, 0 workers", "fixed, 2 workers"]
