"""Every exercise checker fails on the untouched starter (with the learner-facing message) and
passes with solution/ applied; exercise 02 also passes with a differently written answer."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
EXERCISES = TOPIC / "exercises"
FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
# What each checker tells a learner on the untouched starter.
STARTER_MESSAGES = {
    "01-log-missing-hparam": "Some runs have no 'lr' param",
    "02-champion-alias": "The newest version is not always the best",
}


class Checked:
    """What a checker run reported: its exit code and each failure's text, as pytest prints it."""

    stderr = ""  # pytest reports failures in its summary (stdout); kept for the messages below

    def __init__(self) -> None:
        self.returncode: int | None = None
        self.failures: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self.failures.append(report.longreprtext)

    @property
    def stdout(self) -> str:
        return "\n".join(self.failures)


def run_checker(folder: Path) -> Checked:
    """`uv run pytest exercises/NN-name` as a learner runs it, on a copy of the folder.

    In this process (torch and mlflow are imported once, not once per checker); the checker's
    global state (working folder, environment, MLflow's tracking URI and experiment) is put back.
    """
    import mlflow

    checked, environ, cwd = Checked(), dict(os.environ), Path.cwd()
    uri = mlflow.get_tracking_uri()
    try:
        os.chdir(TOPIC)
        args = ["-q", "-p", "no:cacheprovider", "--import-mode=importlib", str(folder)]
        checked.returncode = int(pytest.main(args, plugins=[checked]))
    finally:
        # Every checker is a `test_exercise` module: forget this one, or the next run reuses it.
        for name, module in list(sys.modules.items()):
            if Path(getattr(module, "__file__", None) or "/").is_relative_to(folder):
                del sys.modules[name]
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        mlflow.set_tracking_uri(uri)
        mlflow.tracking.fluent._active_experiment_id = None
    return checked


def copy_exercise(name: str, tmp_path: Path, overlay: Path | None = None) -> Path:
    copy = tmp_path / name
    shutil.copytree(EXERCISES / name, copy, ignore=shutil.ignore_patterns("solution"))
    if overlay is not None:
        for path in overlay.iterdir():
            if path.suffix == ".py":
                shutil.copy2(path, copy / path.name)
    return copy


def test_every_exercise_is_listed_here_and_complete():
    folders = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())
    assert folders == sorted(STARTER_MESSAGES)
    for name in folders:
        folder = EXERCISES / name
        assert {"README.md", "test_exercise.py"} <= {p.name for p in folder.iterdir()}
        assert (folder / "solution" / "WHY.md").is_file()
        starters = [p for p in folder.glob("*.py") if p.name != "test_exercise.py"]
        assert starters and all("# TODO (exercise):" in p.read_text() for p in starters)
        assert {p.name for p in starters} <= {p.name for p in (folder / "solution").glob("*.py")}
        assert f"uv run pytest exercises/{name}" in (folder / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGES))
def test_checker_fails_on_the_starter_with_a_learner_message(name, tmp_path):
    done = run_checker(copy_exercise(name, tmp_path))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert STARTER_MESSAGES[name] in done.stdout
    assert "Traceback" not in done.stdout


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGES))
def test_checker_passes_with_the_solution(name, tmp_path):
    done = run_checker(copy_exercise(name, tmp_path, overlay=EXERCISES / name / "solution"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_checker_passes_a_differently_written_answer(tmp_path):
    answer = FIXTURES / "02-champion-alias"
    solution = (EXERCISES / "02-champion-alias" / "solution" / "promote.py").read_text()
    assert (answer / "promote.py").read_text() != solution
    done = run_checker(copy_exercise("02-champion-alias", tmp_path, overlay=answer))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
