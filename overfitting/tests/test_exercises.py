"""Every exercise checker fails on the untouched starter, with the learner-facing message, and
passes with solution/ applied (and with a second, differently written answer kept in
tests/fixtures/exercises/): the checkers check the claim, not our text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
EXERCISES = TOPIC / "exercises"
ALTERNATIVES = TOPIC / "tests" / "fixtures" / "exercises"
# exercise -> a phrase of the message the untouched starter must fail with
STARTER_MESSAGES = {
    "01-fix-a-leaky-pipeline": "On coin-flip labels your cv_accuracy reports 1.00; the truth is 0.50",
    "02-spot-the-cherry-pick": "answer.toml: cherry_picked = ''; name one of A, B, C",
    "03-report-an-honest-interval": "covers the true difference in 16% of simulated experiments",
}


def test_every_exercise_is_listed():
    found = sorted(p.name for p in EXERCISES.iterdir() if (p / "test_exercise.py").is_file())
    assert found == sorted(STARTER_MESSAGES)
    readme = (TOPIC / "README.md").read_text()
    for name in found:
        folder = EXERCISES / name
        assert (folder / "README.md").is_file() and (folder / "solution" / "WHY.md").is_file()
        starters = [p for p in folder.iterdir() if p.is_file() and p.name != "test_exercise.py"]
        assert any("TODO (exercise)" in p.read_text() for p in starters), name
        assert f"exercises/{name}" in readme
        assert f"uv run pytest exercises/{name}" in (folder / "README.md").read_text()


def starter_copy(name: str, dest: Path, *overlays: Path) -> Path:
    """The exercise folder without solution/, with each overlay's files copied on top."""
    copy = dest / name
    shutil.copytree(
        EXERCISES / name, copy, ignore=shutil.ignore_patterns("solution", "__pycache__")
    )
    for overlay in overlays:
        shutil.copytree(overlay, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("WHY.md"))
    return copy


def run_checker(folder: Path) -> subprocess.CompletedProcess:
    """The checker as a learner runs it, from the topic folder, in a fresh pytest process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TOPIC / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    return subprocess.run(cmd, cwd=TOPIC, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGES))
def test_starter_fails_with_the_learner_message(tmp_path, name):
    done = run_checker(starter_copy(name, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert STARTER_MESSAGES[name] in done.stdout, done.stdout
    assert "Traceback" not in done.stdout


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGES))
def test_solution_passes(tmp_path, name):
    done = run_checker(starter_copy(name, tmp_path, EXERCISES / name / "solution"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in ALTERNATIVES.iterdir()))
def test_another_correct_answer_passes(tmp_path, name):
    done = run_checker(starter_copy(name, tmp_path, ALTERNATIVES / name))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_cherry_pick_data_reproduce():
    """Exercise 02's reports reproduce with their seeds (that the checker's own computation finds
    exactly one of them at the top of its method's 50 seeds is shown by the solution passing)."""
    sys.path.insert(0, str(EXERCISES / "02-spot-the-cherry-pick"))
    try:
        from reports import REPORTS, score
    finally:
        sys.path.pop(0)
    readme = (EXERCISES / "02-spot-the-cherry-pick" / "README.md").read_text()
    for letter, report in REPORTS.items():
        assert score(report["method"], report["split_seed"]) == pytest.approx(
            report["accuracy"], abs=5e-5
        )
        row = (
            f"| {letter} | {report['method']} | {report['split_seed']} | {report['accuracy']:.4f} |"
        )
        assert row in readme, row
