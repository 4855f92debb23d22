"""Every exercise's checker fails on the untouched starter (with the learner-facing message, no
traceback) and passes on solution/ - and on a differently written fixture solution where one exists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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


def check(folder: Path) -> subprocess.CompletedProcess:
    """What a learner runs (`uv run pytest exercises/NN-...`), from the topic folder."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TOPIC / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    return subprocess.run(cmd, cwd=TOPIC, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """All checker runs, two at a time (the 2 cores): starter, solution/, alternative fixture."""
    jobs = {}
    for name in MESSAGES:
        jobs[(name, "starter")] = None
        jobs[(name, "solution")] = EXERCISES / name / "solution"
        if (ALTERNATIVES / name).is_dir():
            jobs[(name, "alternative")] = ALTERNATIVES / name
    folders = {
        key: prepare(key[0], tmp_path_factory.mktemp(key[1]), overlay)
        for key, overlay in jobs.items()
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(folders, pool.map(check, folders.values()), strict=True))


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
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert MESSAGES[name] in output and "Traceback" not in output, output


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_solution_passes(checked, name):
    done = checked[(name, "solution")]
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_differently_written_solution_passes_too(checked):
    alternatives = [key for key in checked if key[1] == "alternative"]
    assert alternatives, "at least one exercise needs a second, differently written solution"
    for key in alternatives:
        assert checked[key].returncode == 0, checked[key].stdout + checked[key].stderr
