"""Every exercise checker fails on the untouched starter, with the learner-facing message, and
passes with solution/ applied (and with a second, differently written answer where one is kept
in tests/fixtures/exercises/): the checkers check the claim, not our text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SRC, TOPIC, needs_uv

EXERCISES = TOPIC / "exercises"
ALTERNATIVES = TOPIC / "tests" / "fixtures" / "exercises"
# exercise -> a phrase of the message the untouched starter must fail with
STARTER_MESSAGES = {
    "01-lock-the-drift": "there is no uv.lock: an install today resolves the requirement "
    "afresh and gets tinystats 1.1.0, spread = 2.138",
    "02-declare-the-import": "deptry: the code imports scipy, which pyproject.toml does not declare",
    "03-fix-the-dockerfile": "does not copy uv.lock",
}


def test_every_exercise_is_listed():
    found = sorted(p.name for p in EXERCISES.iterdir() if (p / "test_exercise.py").is_file())
    assert found == sorted(STARTER_MESSAGES)
    for name in found:
        folder = EXERCISES / name
        assert (folder / "README.md").is_file() and (folder / "solution" / "WHY.md").is_file()
        assert "TODO (exercise)" in "".join(
            p.read_text(errors="ignore")
            for p in folder.rglob("*")
            if p.is_file() and "solution" not in p.parts
        )
        assert f"exercises/{name}" in (TOPIC / "README.md").read_text()


def starter_copy(name: str, dest: Path, *overlays: Path) -> Path:
    """The exercise folder without solution/, with each overlay's files copied on top."""
    copy = dest / name
    shutil.copytree(
        EXERCISES / name,
        copy,
        ignore=shutil.ignore_patterns("solution", ".venv", "wheels", "__pycache__"),
    )
    for overlay in overlays:
        shutil.copytree(overlay, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("WHY.md"))
    return copy


def run_checker(folder: Path) -> subprocess.CompletedProcess:
    """The checker as a learner runs it, from the topic folder, in a fresh pytest process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    return subprocess.run(cmd, cwd=TOPIC, env=env, capture_output=True, text=True)


@needs_uv
@pytest.mark.parametrize("name", sorted(STARTER_MESSAGES))
def test_starter_fails_with_the_learner_message(tmp_path, name):
    done = run_checker(starter_copy(name, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert STARTER_MESSAGES[name] in done.stdout, done.stdout
    assert "Traceback" not in done.stdout


@needs_uv
@pytest.mark.parametrize("name", sorted(STARTER_MESSAGES))
def test_solution_passes(tmp_path, name):
    done = run_checker(starter_copy(name, tmp_path, EXERCISES / name / "solution"))
    assert done.returncode == 0, done.stdout + done.stderr


@needs_uv
@pytest.mark.parametrize("name", sorted(p.name for p in ALTERNATIVES.iterdir()))
def test_another_correct_answer_passes(tmp_path, name):
    done = run_checker(starter_copy(name, tmp_path, ALTERNATIVES / name))
    assert done.returncode == 0, done.stdout + done.stderr


@needs_uv
def test_a_lock_made_on_day_two_fails(tmp_path):
    """Locking is not enough: locked after 1.1.0 was published, the lock holds the new number."""
    from environments.drift import build_wheel

    copy = starter_copy("01-lock-the-drift", tmp_path)
    for release in ("1.0.0", "1.1.0"):
        build_wheel(release, copy / "wheels")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([shutil.which("uv"), "lock", "--quiet"], cwd=copy, env=env, check=True)
    done = run_checker(copy)
    assert done.returncode == 1
    assert "your lock installs tinystats 1.1.0, spread = 2.138" in done.stdout, done.stdout


def test_report_shows_the_fold_spread_not_a_standard_error(tmp_path):
    """Exercise 02's report must not teach `mean +- sem(folds)`: the folds share training data,
    so that interval is too narrow. It shows the spread: every fold's score lies in the printed
    range, whose ends are the worst and the best fold."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score
    from sklearn.naive_bayes import GaussianNB

    scores = cross_val_score(GaussianNB(), *load_digits(return_X_y=True), cv=5)
    src = EXERCISES / "02-declare-the-import" / "src"
    cmd = [sys.executable, "-m", "digits_report.report"]
    done = subprocess.run(
        cmd,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"from {scores.min():.4f} to {scores.max():.4f}" in done.stdout, done.stdout
    assert "+-" not in done.stdout
