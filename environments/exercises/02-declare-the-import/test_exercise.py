"""Checker for exercise 02: deptry finds no undeclared import in src/, and the report still
prints the same accuracy and fold spread.

Run from environments/:  uv run pytest exercises/02-declare-the-import
"""

import importlib
import re
import shutil
from pathlib import Path

import pytest
from environments.undeclared import run_deptry, undeclared_modules
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB

HERE = Path(__file__).parent


@pytest.fixture
def project(tmp_path) -> Path:
    """Your pyproject.toml and src/, without this checker (deptry would read its imports too)."""
    project = tmp_path / "project"
    shutil.copytree(HERE / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(HERE / "pyproject.toml", project / "pyproject.toml")
    return project


def test_every_import_is_declared(project):
    findings = run_deptry(project)
    missing = undeclared_modules(findings)
    if missing:
        where = "; ".join(
            f"{f['module']} at {f['where']} ({f['code']})"
            for f in findings
            if f["module"] in missing
        )
        pytest.fail(
            f"deptry: the code imports {', '.join(missing)}, which pyproject.toml does not declare "
            f"({where}). It runs here only because something else installed it; an environment "
            "built from pyproject.toml alone may not have it. Declare it in [project] "
            "dependencies, or compute the same thing with what is declared.",
            pytrace=False,
        )


def test_report_prints_the_same_numbers(project, capsys, monkeypatch):
    """Removing the import is fine; removing the fold spread is not. (Run in this process: one
    scikit-learn import is slow enough on a busy laptop.)"""
    scores = cross_val_score(GaussianNB(), *load_digits(return_X_y=True), cv=5)
    expected = (
        f"accuracy {scores.mean():.4f} over {len(scores)} folds, "
        f"from {scores.min():.4f} to {scores.max():.4f} (sd {scores.std(ddof=1):.4f})"
    )
    monkeypatch.syspath_prepend(str(project / "src"))
    try:
        importlib.import_module("digits_report.report").main()
    except Exception as exc:  # whatever the learner's code raises, say it in one line
        pytest.fail(f"`python -m digits_report.report` fails: {exc!r}", pytrace=False)
    spread = r"accuracy \d\.\d{4} over \d+ folds, from \d\.\d{4} to \d\.\d{4} \(sd \d\.\d{4}\)"
    printed = re.search(spread, capsys.readouterr().out)
    if not printed or printed[0] != expected:
        pytest.fail(
            f"`python -m digits_report.report` should print `{expected}`; it printed "
            f"{printed[0] if printed else 'no accuracy line'!r}.",
            pytrace=False,
        )
