"""Every exercise checker fails on its untouched starter (with the learner-facing message) and
passes once solved - by our solution and, for 01, by a differently written one.

The checkers run in ONE nested pytest process (starters, solved copies and alternatives side
by side), as a learner runs them: from the topic folder with its pytest settings, `src` on
PYTHONPATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAN_SYMLINK, needs_symlinks

TOPIC = Path(__file__).resolve().parents[1]
EXERCISES = TOPIC / "exercises"
ALTERNATIVES = TOPIC / "tests" / "fixtures" / "exercises"
# What the learner reads when the starter is untouched.
STARTER_MESSAGE = {
    "01-pickle-to-safetensors": "AutoModel could not load your folder with use_safetensors=True",
    "02-pin-the-revision": "load() returned the weights `main` points at now",
    "03-complete-the-card": "the card's metadata is incomplete: license must be",
}
NAMES = sorted(p.name for p in EXERCISES.iterdir() if (p / "test_exercise.py").is_file())
# Its checker publishes to the offline Hub stand-in, a symlinked huggingface_hub cache.
HUB_STANDIN = {"02-pin-the-revision"}
RUNNABLE = [n for n in NAMES if CAN_SYMLINK or n not in HUB_STANDIN]
CHECKED = [pytest.param(n, marks=needs_symlinks) if n in HUB_STANDIN else n for n in NAMES]


def copy_exercise(name: str, dest: Path, overlay: Path | None = None) -> Path:
    copy = shutil.copytree(EXERCISES / name, dest / name, ignore=shutil.ignore_patterns("solution"))
    for f in overlay.iterdir() if overlay else []:
        if f.is_file() and f.suffix != ".md":
            shutil.copy(f, copy / f.name)
    return copy


def run_checkers(folders: list[Path], rootdir: Path) -> subprocess.CompletedProcess:
    src = str(TOPIC / "src")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pyproject.toml"]
    cmd += [
        "--import-mode=importlib",
        "-rA",
        f"--rootdir={rootdir}",  # test ids then name their copy: starters0/01-.../test_...
        *map(str, folders),
    ]  # same-named checkers side by side
    return subprocess.run(cmd, cwd=TOPIC, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def checkers(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict[str, Path]]:
    """ONE nested pytest over the untouched starters, our solutions and the alternatives."""
    roots = {k: tmp_path_factory.mktemp(k) for k in ("starters", "solved", "alternative")}
    folders = [copy_exercise(n, roots["starters"]) for n in RUNNABLE]
    folders += [copy_exercise(n, roots["solved"], EXERCISES / n / "solution") for n in RUNNABLE]
    folders += [
        copy_exercise(p.name, roots["alternative"], p) for p in sorted(ALTERNATIVES.iterdir())
    ]
    return run_checkers(folders, tmp_path_factory.getbasetemp()), roots


def checker_tests(name: str) -> list[str]:
    text = (EXERCISES / name / "test_exercise.py").read_text()
    return re.findall(r"^def (test_\w+)", text, flags=re.MULTILINE)


def result_lines(checkers, kind: str, name: str) -> list[str]:
    """The -rA summary lines of one copy (`kind`: starters, solved, alternative) of a checker."""
    proc, roots = checkers
    copy = f"{roots[kind].name}/{name}/test_exercise.py::"
    tests = tuple(f"{copy}{t}" for t in checker_tests(name))
    return [
        ln
        for ln in proc.stdout.splitlines()
        if ln.startswith(("PASSED", "FAILED", "ERROR")) and any(t in ln for t in tests)
    ]


def test_every_exercise_has_the_layout():
    assert 2 <= len(NAMES) <= 4 and set(NAMES) == set(STARTER_MESSAGE)
    for name in NAMES:
        folder = EXERCISES / name
        assert (folder / "README.md").is_file() and (folder / "solution" / "WHY.md").is_file()
        starters = [p for p in folder.glob("*.py") if p.name != "test_exercise.py"]
        assert starters and all("# TODO (exercise):" in p.read_text() for p in starters)
        assert {p.name for p in starters} <= {p.name for p in (folder / "solution").iterdir()}
        assert f"uv run pytest exercises/{name}" in (folder / "README.md").read_text()


@pytest.mark.parametrize("name", CHECKED)
def test_checker_fails_on_the_untouched_starter(checkers, name):
    proc = checkers[0]
    lines = result_lines(checkers, "starters", name)
    assert len(lines) >= len(checker_tests(name)), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert all(ln.startswith("FAILED") for ln in lines), proc.stdout[-3000:]
    assert STARTER_MESSAGE[name] in proc.stdout
    assert "Traceback" not in proc.stdout  # a message for a learner, not a stack


@pytest.mark.parametrize("name", CHECKED)
def test_checker_passes_on_the_solution(checkers, name):
    lines = result_lines(checkers, "solved", name)
    assert len(lines) >= len(checker_tests(name)), checkers[0].stdout[-3000:]
    assert all(ln.startswith("PASSED") for ln in lines), checkers[0].stdout[-3000:]


def test_a_differently_written_solution_passes(checkers):
    for alt in ALTERNATIVES.iterdir():
        lines = result_lines(checkers, "alternative", alt.name)
        assert len(lines) >= len(checker_tests(alt.name)), lines
        assert all(ln.startswith("PASSED") for ln in lines)
