"""Hidden state inside a function: `accuracy(model, X, y)` ignores its arguments and reads the
global test set (the original workshop's `test()` read the global `test_loader` the same way).

A fresh top-to-bottom run prints the same wrong number (the global exists there too); ruff's
ARG001 (unused function argument) finds it without running anything, and is quiet once the
function uses what it is given.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOKS, TOPIC
from jupyter_reproducibility.nbcheck import run_fresh
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

NOTEBOOK = NOTEBOOKS / "trap_function.ipynb"
BUG = "return model.score(X_test, y_test)"
FIX = "return model.score(X, y)"


@pytest.fixture(scope="module")
def printed() -> str:
    """What the notebook prints, run top to bottom in a fresh kernel (nbcheck's own fresh run)."""
    fresh = run_fresh(nbformat.read(NOTEBOOK, as_version=4), NOTEBOOKS, "python3", 120)
    return "".join(o.get("text", "") for c in fresh.cells for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def scores() -> dict[str, float]:
    """The model's real training and test accuracy, computed here without the notebook."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0, stratify=y
    )
    model = LogisticRegression(C=1.0, max_iter=2000).fit(X_train, y_train)
    return {"train": model.score(X_train, y_train), "test": model.score(X_test, y_test)}


def test_a_fresh_run_prints_the_test_accuracy_as_training_accuracy(printed, scores) -> None:
    assert f"training accuracy {scores['test']:.3f}" in printed  # the wrong number, again
    assert f"test accuracy     {scores['test']:.3f}" in printed
    assert f"{scores['train']:.3f}" != f"{scores['test']:.3f}"  # the real gap it hides
    assert f"training accuracy {scores['train']:.3f}" not in printed


def unused_arguments(notebook: Path) -> list[str]:
    """ruff's ARG001 findings on a notebook, as `cell N: message` (no config file read)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "ARG"]
        + ["--output-format", "json", str(notebook)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return [f"cell {f['cell']}: {f['message']}" for f in json.loads(done.stdout)]


def test_ruff_names_the_ignored_arguments_and_is_quiet_once_they_are_used(tmp_path) -> None:
    assert unused_arguments(NOTEBOOK) == [
        "cell 3: Unused function argument: `X`",
        "cell 3: Unused function argument: `y`",
    ]
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (cell,) = [c for c in nb.cells if BUG in c.source]
    cell.source = cell.source.replace(BUG, FIX)
    nbformat.write(nb, tmp_path / "fixed.ipynb")
    assert unused_arguments(tmp_path / "fixed.ipynb") == []


def test_docs_show_the_bug_and_what_catches_it(printed, scores) -> None:
    for document in ("README.md", "slides.md"):
        text = (TOPIC / document).read_text(encoding="utf-8")
        assert BUG in text and "ARG001" in text, document
        assert f"training accuracy {scores['test']:.3f}" in text, document
        assert f"{scores['train']:.3f}" in text, document
