"""Every exercise's checker fails on the untouched starter (with the learner-facing message, no
traceback) and passes on solution/ - and on a differently written fixture solution where one exists."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
EXERCISES = TOPIC / "exercises"
ALTERNATIVES = Path(__file__).parent / "fixtures" / "exercises"
MESSAGES = {  # what the checker tells a learner who has not done the task yet
    "01-summed-loss": "2 processes trained a different model than 1 process",
    "02-seed-per-rank": "rank 0 and rank 1 still draw the same augmentation codes",
    "03-set-epoch": "rank 0 sees the same order in every epoch",
}


def prepare(name: str, root: Path, overlay: Path | None) -> Path:
    """A copy of the exercise without solution/, optionally with `overlay`'s files on top."""
    copy = root / name
    shutil.copytree(
        EXERCISES / name, copy, ignore=shutil.ignore_patterns("solution", "__pycache__")
    )
    for f in overlay.iterdir() if overlay else ():
        if f.suffix == ".py":
            shutil.copy(f, copy / f.name)
    return copy


@dataclass
class Checked:
    returncode: int
    output: str


def check(folder: Path) -> Checked:
    """What a learner runs (`uv run pytest exercises/NN-...`), from the topic folder: pytest's own
    entry point, here in this process (torch is already imported), its report captured. The
    checker's own module is dropped after it, so the next `test_exercise.py` imports its own."""
    path, cwd = list(sys.path), os.getcwd()
    report = io.StringIO()
    try:
        os.chdir(TOPIC)
        with contextlib.redirect_stdout(report), contextlib.redirect_stderr(report):
            code = pytest.main(["-q", "-p", "no:cacheprovider", str(folder)])
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(str(folder)):
                del sys.modules[name]
    return Checked(int(code), report.getvalue())


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict[tuple[str, str], Checked]:
    """All checker runs: starter, solution/, alternative fixture."""
    jobs = {}
    for name in MESSAGES:
        jobs[(name, "starter")] = None
        jobs[(name, "solution")] = EXERCISES / name / "solution"
        if (ALTERNATIVES / name).is_dir():
            jobs[(name, "alternative")] = ALTERNATIVES / name
    return {
        key: check(prepare(key[0], tmp_path_factory.mktemp(key[1]), overlay))
        for key, overlay in jobs.items()
    }


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_layout(name):
    folder = EXERCISES / name
    starters = sorted(
        p.name for p in folder.iterdir() if p.suffix == ".py" and p.name != "test_exercise.py"
    )
    assert starters and sorted(p.name for p in (folder / "solution").glob("*.py")) == starters
    assert any("# TODO (exercise):" in (folder / s).read_text() for s in starters)
    readme = (folder / "README.md").read_text()
    assert f"uv run pytest exercises/{name}" in readme and "solution/" in readme
    assert (folder / "solution" / "WHY.md").stat().st_size > 200


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_starter_fails_with_the_learner_message(checked, name):
    done = checked[(name, "starter")]
    output = done.output
    assert done.returncode == 1, output
    assert MESSAGES[name] in output and "Traceback" not in output, output


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_solution_passes(checked, name):
    done = checked[(name, "solution")]
    assert done.returncode == 0, done.output


def test_a_differently_written_solution_passes_too(checked):
    alternatives = [key for key in checked if key[1] == "alternative"]
    assert alternatives, "at least one exercise needs a second, differently written solution"
    for key in alternatives:
        assert checked[key].returncode == 0, checked[key].output
