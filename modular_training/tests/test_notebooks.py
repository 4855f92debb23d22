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


def test_slide_figures_are_committed_and_small():
    from conftest import TOPIC

    figures = {p.name: p.stat().st_size for p in (TOPIC / "figures").glob("*.png")}
    assert set(figures) == {"training_curve.png", "resume.png", "seeds.png"}
    assert all(0 < size < 300_000 for size in figures.values()), figures
    slides = (TOPIC / "slides.md").read_text()
    assert slides.startswith("---\nmarp: true")
    for name in figures:
        assert f"figures/{name}" in slides, name


def test_resume_figure_marks_matches_and_mismatches(tmp_path):
    from modular_training.figures import resume_figure

    results = {
        "naive": {"uninterrupted": "a" * 64, "after epoch 1": "b" * 64},
        "fixed": {"uninterrupted": "c" * 64, "after epoch 1": "c" * 64},
    }
    assert resume_figure(results, tmp_path / "r.png").stat().st_size > 0
