"""Every exercise's checker fails on the untouched starter (with its learner-facing message) and
passes with `solution/` applied; for exercise 01 a differently written answer passes too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SRC, TOPIC

EXERCISES = TOPIC / "exercises"
FIXTURES = TOPIC / "tests" / "fixtures" / "exercises"
# What the checker says on the untouched starter.
STARTER_MESSAGE = {
    "01-resume-bit-identical": "the resumed run ended with other weights",
    "02-config-hyperparameter": "the model built from config.yaml is 32 units wide, not 64",
    "03-seed-two-runs": "train(0) twice gave different weights",
}


def test_every_exercise_is_listed():
    names = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())
    assert names == sorted(STARTER_MESSAGE)
    readme = (TOPIC / "README.md").read_text()
    for name in names:
        assert f"exercises/{name}" in readme, name
        assert "TODO (exercise)" in "".join(
            p.read_text()
            for p in (EXERCISES / name).iterdir()
            if p.is_file() and p.name != "README.md"
        ), name


def copy_exercise(name: str, tmp_path: Path, *overlays: Path) -> Path:
    copy = tmp_path / name
    shutil.copytree(
        EXERCISES / name, copy, ignore=shutil.ignore_patterns("solution", "__pycache__")
    )
    for overlay in overlays:
        for f in overlay.iterdir():
            if f.is_file() and f.suffix != ".md":
                shutil.copy(f, copy / f.name)
    return copy


def check(copy: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(copy)],
        cwd=TOPIC,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGE))
def test_checker_fails_on_the_starter(name, tmp_path):
    done = check(copy_exercise(name, tmp_path))
    assert done.returncode == 1, done.stdout[-3000:]
    assert STARTER_MESSAGE[name] in done.stdout, done.stdout[-3000:]
    assert "Traceback" not in done.stdout


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGE))
def test_checker_passes_with_the_solution(name, tmp_path):
    done = check(copy_exercise(name, tmp_path, EXERCISES / name / "solution"))
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_checker_passes_with_another_correct_answer(name, tmp_path):
    done = check(copy_exercise(name, tmp_path, FIXTURES / name))
    assert done.returncode == 0, done.stdout[-3000:]
