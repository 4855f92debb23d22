"""Shared test set-up: import path for subprocesses, GPU skipping, and the slow jobs started early.

Every fresh interpreter that imports Lightning costs ~15 s here, so the few checks that truly need
separate processes (determinism across processes, the real exit path, notebook kernels) are started
in the background when the session begins; the in-process tests run while they work.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
SRC = TOPIC / "src"
# Subprocesses and notebook kernels must import the package even where it is not installed.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
from modular_training.plumbing import quiet_known_warnings  # noqa: E402

quiet_known_warnings()  # the library's advice that does not apply here would bury real warnings
NOTEBOOKS = sorted((TOPIC / "notebooks").glob("*.ipynb"))


# GPU tests: without a usable GPU they skip with a reason, unless the root runner's --gpu=on
# (ML_REPRO_GPU=on) says they must run; then each fails, naming why. What this run saw goes to
# ML_REPRO_DEVICE_FILE, the root matrix's device column.
GPU_MISSING = pytest.StashKey[str]()


def pytest_collection_modifyitems(config, items):
    """Run the tests that wait on background jobs last, so in-process tests overlap with them;
    skip `gpu` tests where CUDA is absent."""
    import torch

    items.sort(
        key=lambda item: "jobs" in inspect.signature(getattr(item, "function", len)).parameters
    )
    usable = torch.cuda.is_available()
    if os.environ.get("ML_REPRO_DEVICE_FILE"):
        Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cuda" if usable else "cpu")
    if usable:
        return
    for item in items:
        if "gpu" in item.keywords:
            if os.environ.get("ML_REPRO_GPU") == "on":
                item.stash[GPU_MISSING] = "needs a CUDA GPU"
            else:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def pytest_runtest_setup(item):
    if (why := item.stash.get(GPU_MISSING, None)) is not None:
        pytest.fail(f"--gpu=on: this gpu test must run, but {why}", pytrace=False)


@dataclass
class Job:
    """A command running in the background; `result()` waits and returns (rc, stdout, stderr)."""

    name: str
    process: subprocess.Popen
    started: float
    seconds: float | None = None
    out: tuple[int, str, str] | None = None

    def result(self, timeout: float = 480) -> tuple[int, str, str]:
        if self.out is None:
            stdout, stderr = self.process.communicate(timeout=timeout)
            self.seconds = time.time() - self.started
            self.out = (self.process.returncode, stdout, stderr)
        return self.out


class Jobs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs: dict[str, Job] = {}

    def start(self, name: str, args: list[str], cwd: Path = TOPIC) -> None:
        proc = subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.jobs[name] = Job(name, proc, time.time())

    def __getitem__(self, name: str) -> Job:
        return self.jobs[name]

    def stop_all(self) -> None:
        for job in self.jobs.values():
            if job.process.poll() is None:
                job.process.kill()
                job.process.communicate()


HEADLINE = "step3_cli"  # the module `mt-train` runs (pyproject [project.scripts])


def module(name: str, *args: str) -> list[str]:
    """A CLI as tests must start it: `python -m`, never the console-script name (--env current)."""
    return [sys.executable, "-m", f"modular_training.{name}", *args]


EXERCISES = TOPIC / "exercises"
EXERCISE_FIXTURES = TOPIC / "tests" / "fixtures" / "exercises"


def exercise_copies(root: Path) -> dict[str, dict[str, Path]]:
    """For each exercise, copies of its folder (without solution/) as a learner has it: the
    untouched "starter", with "solution/" laid over it, and with any other correct answer from
    tests/fixtures laid over it ("other")."""
    copies: dict[str, dict[str, Path]] = {}
    for exercise in sorted(p for p in EXERCISES.iterdir() if p.is_dir()):
        overlays = {"starter": None, "solution": exercise / "solution"}
        if (EXERCISE_FIXTURES / exercise.name).is_dir():
            overlays["other"] = EXERCISE_FIXTURES / exercise.name
        for kind, overlay in overlays.items():
            copy = root / exercise.name / kind
            shutil.copytree(
                exercise, copy, ignore=shutil.ignore_patterns("solution", "__pycache__")
            )
            for f in overlay.iterdir() if overlay else ():
                if f.is_file() and f.suffix != ".md":
                    shutil.copy(f, copy / f.name)
            copies.setdefault(exercise.name, {})[kind] = copy
    return copies


def make_truncated_checkpoint(path: Path) -> Path:
    import torch

    torch.save({"state_dict": {"w": torch.zeros(1000)}, "loops": {}}, path)
    path.write_bytes(path.read_bytes()[:600])  # cut mid-file, like a copy that died
    return path


@pytest.fixture(scope="session")
def jobs(tmp_path_factory) -> Jobs:
    root = tmp_path_factory.mktemp("jobs")
    bg = Jobs(root)
    # The headline run in a fresh process; the determinism checks train its twins in the pytest
    # process itself (another process, with no second ~25 s of Lightning start-up).
    bg.start("headline_a", module(HEADLINE, f"--out={root / 'a'}"))
    bg.start("monolithic", module("step1_monolithic", f"--out={root / 'monolithic'}"))
    # The README's example, typed as a new user would (space, not "="), through the real exit path.
    bg.start(
        "max_epochs_negative",
        module(HEADLINE, "--trainer.max_epochs", "-3", f"--out={root / 'bad'}"),
    )
    for name, copies in exercise_copies(root / "exercises").items():
        # One interpreter per exercise checks its starter, its solution and any other answer.
        bg.start(
            f"exercise {name}",
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--import-mode=importlib",
                f"--junitxml={root / 'exercises' / name}.xml",
                *map(str, copies.values()),
            ],
        )
    for nb in NOTEBOOKS:
        work = root / nb.stem
        work.mkdir()
        bg.start(
            nb.stem, [sys.executable, str(TOPIC / "tests" / "run_notebook.py"), str(nb)], cwd=work
        )
    yield bg
    bg.stop_all()


@pytest.fixture(scope="session", autouse=True)
def _start_background_jobs(request):
    """Autouse: the background jobs start before the first test, whichever test that is - when
    any collected test needs them (`pytest tests/test_data.py` starts none)."""
    if any("jobs" in item.fixturenames for item in request.session.items):
        return request.getfixturevalue("jobs")
    return None
