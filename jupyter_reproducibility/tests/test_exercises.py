"""Every exercise's checker fails on the untouched starter (with its learner-facing message) and
passes with `solution/` applied; for exercise 02 a differently written answer passes too."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SRC, TOPIC
from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy

EXERCISES = TOPIC / "exercises"
FIXTURES = TOPIC / "tests" / "fixtures" / "exercises"
# What the checker says on the untouched starter.
STARTER_MESSAGE = {
    "01-repair-the-trap": "nbcheck still warns: `C` is defined in cells 4, 7",
    "02-marimo-app": "marimo check still refuses the app: critical[multiple-definitions]",
    "03-papermill-parameters": f"papermill -p C {C_EXPERIMENT_1} should print test accuracy",
}


def test_every_exercise_is_listed_and_marked() -> None:
    names = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())
    assert names == sorted(STARTER_MESSAGE)
    readme = (TOPIC / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"exercises/{name}" in readme, name
        starters = [p for p in (EXERCISES / name).iterdir() if p.suffix in (".py", ".ipynb")]
        assert any(
            "TODO (exercise)" in p.read_text() for p in starters if p.stem != "test_exercise"
        )


def test_numbers_in_the_exercise_readmes_are_the_experiments() -> None:
    """The accuracies the exercise READMEs promise are what the experiments give now."""
    quoted = {
        float(n)
        for p in EXERCISES.glob("*/README.md")
        for n in re.findall(r"\b0\.\d{3}\b", p.read_text())
    } - {C_EXPERIMENT_1}
    assert quoted == {
        round(expected_accuracy(C_EXPERIMENT_1), 3),
        round(expected_accuracy(C_EXPERIMENT_2), 3),
    }


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


def check(copy: Path, tmp_path: Path, monkeypatch) -> pytest.fail.Exception | None:
    """The copy's checker, run in this process as pytest runs it: None if it passes, else the
    `pytest.fail` it raised, whose message is what the learner reads. Anything else it raises
    (a crash in the checker) fails the test that called it."""
    # The checkers point kernel "python3" at this interpreter: keep that out of later tests.
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    spec = importlib.util.spec_from_file_location(f"checker_{copy.name}", copy / "test_exercise.py")
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    (test,) = [getattr(checker, name) for name in dir(checker) if name.startswith("test_")]
    wants = inspect.signature(test).parameters
    try:
        test(**({"tmp_path": tmp_path / "checker"} if "tmp_path" in wants else {}))
    except pytest.fail.Exception as failed:
        return failed
    return None


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGE))
def test_checker_fails_on_the_starter(name: str, tmp_path: Path, monkeypatch) -> None:
    failed = check(copy_exercise(name, tmp_path), tmp_path, monkeypatch)
    assert failed is not None, f"{name}: the checker passes on the untouched starter"
    assert STARTER_MESSAGE[name] in failed.msg, failed.msg
    assert failed.pytrace is False  # pytest shows the message, not a traceback


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGE))
def test_checker_passes_with_the_solution(name: str, tmp_path: Path, monkeypatch) -> None:
    copy = copy_exercise(name, tmp_path, EXERCISES / name / "solution")
    failed = check(copy, tmp_path, monkeypatch)
    assert failed is None, failed.msg


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_checker_passes_with_another_correct_answer(name: str, tmp_path: Path, monkeypatch):
    failed = check(copy_exercise(name, tmp_path, FIXTURES / name), tmp_path, monkeypatch)
    assert failed is None, failed.msg


def test_a_learner_sees_the_message_without_a_traceback(tmp_path: Path) -> None:
    """The command the exercise READMEs give, `pytest exercises/NN-name`, as its own process, on
    the starter whose checker needs no kernel: exit 1, the hint, no traceback."""
    name = "01-repair-the-trap"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ["PYTHONPATH"]])}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(copy_exercise(name, tmp_path)),
        ],
        cwd=TOPIC,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert STARTER_MESSAGE[name] in done.stdout, done.stdout[-3000:]
    assert "Traceback" not in done.stdout


def test_exercise_files_describe_themselves() -> None:
    """Each starter's and solution's docstring speaks of its own file: a command in it names that
    file, and a solution never calls itself broken."""
    for path in sorted(EXERCISES.glob("*/*.py")) + sorted(EXERCISES.glob("*/solution/*.py")):
        if path.name == "test_exercise.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        named = set(re.findall(r"[\w./-]+\.py\b", doc))
        assert named <= {path.relative_to(TOPIC).as_posix()}, (path, named)
        if "solution" in path.parts:
            assert "broken" not in doc.lower(), path
