"""Options of the root test run, and the matrix printed at the end of it.

    uv run pytest                                   # every project, one after another
    uv run pytest --topics=overfitting,repro_check  # a selection (write the `=`, see README)
    uv run pytest --lf                              # again: failed projects, their failed tests
    uv run pytest -n auto                           # projects side by side (pytest-xdist)
    uv run pytest --gpu=on                          # gpu tests must run: fail where no GPU
    uv run pytest --gpu=off                         # never run gpu-marked tests
    uv run pytest --other-cpu                       # as if on another CPU (other kernels)
    python -m pytest --env=current                  # the active interpreter, not uv

Options (environment variable twins for CI systems and job scripts):
  --topics=a,b     ML_REPRO_TOPICS       projects to run (default: every top-level project)
  --gpu=MODE       ML_REPRO_GPU          auto: gpu tests run where the project finds a usable
                                         GPU and skip with a reason elsewhere; on: they must
                                         run, and fail (naming why) where no usable GPU is
                                         found; off: they are deselected
  --env=MODE       ML_REPRO_ENV          uv: each project in its own `uv sync --locked`
                                         environment; current: the active interpreter
                                         (ML_REPRO_PYTHON names another one)
  --other-cpu      ML_REPRO_OTHER_CPU=1  export ATEN_CPU_CAPABILITY=default and
                                         MKL_CBWR=COMPATIBLE to every project run
  --lf                                   re-run the projects that failed, and inside each only
                                         its failed tests (each project keeps its own cache)
  -n N | -n auto                         pytest-xdist: N projects at once (default: serial)
                   ML_REPRO_TOPIC_TIMEOUT  seconds one project may take, sync included (1800);
                                         then its process group is stopped, its partial output
                                         kept in .matrix/<project>.log
                   ML_REPRO_PROGRESS_S   seconds between progress lines of a running project (30)

Each project's log, junit XML, the device its tests saw and its result are kept in .matrix/.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from checks import shared_version_table
from runner import (
    REPO_ROOT,
    SESSION_VAR,
    discover_projects,
    format_matrix,
    gpu_present,
    load_results,
    mode_line,
)

TRUE = {"1", "true", "yes", "on"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ml-repro", "root test matrix")
    group.addoption(
        "--topics",
        default=os.environ.get("ML_REPRO_TOPICS", ""),
        help="comma-separated project folders to run (default: all) [ML_REPRO_TOPICS]",
    )
    group.addoption(
        "--gpu",
        choices=["auto", "on", "off"],
        default=os.environ.get("ML_REPRO_GPU", "auto"),
        help="gpu-marked tests: auto = run where the project finds a usable GPU, skip with a "
        "reason elsewhere; on = they must run: fail, naming why, where no usable GPU is "
        "found; off = deselect them [ML_REPRO_GPU]",
    )
    group.addoption(
        "--env",
        choices=["uv", "current"],
        default=os.environ.get("ML_REPRO_ENV", "uv"),
        help="uv = each project's own locked environment (uv sync --locked); current = the "
        "active interpreter, for HPC modules, containers, offline GPU machines [ML_REPRO_ENV]",
    )
    group.addoption(
        "--other-cpu",
        action="store_true",
        default=os.environ.get("ML_REPRO_OTHER_CPU", "").lower() in TRUE,
        help="run every project as if on another CPU: export ATEN_CPU_CAPABILITY=default "
        "and MKL_CBWR=COMPATIBLE to each project run [ML_REPRO_OTHER_CPU=1]",
    )
    group.addoption(
        "--repo-root",
        default=str(REPO_ROOT),
        help="repository to test (the runner's own tests point it at throwaway copies)",
    )


def repo_root(config: pytest.Config) -> Path:
    return Path(config.getoption("--repo-root")).resolve()


def selected_topics(config: pytest.Config) -> list[str]:
    """Projects to run: all discovered ones, or those named with --topics (unknown names fail)."""
    found = discover_projects(repo_root(config))
    wanted = [t.strip().strip("/") for t in config.getoption("--topics").split(",") if t.strip()]
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise pytest.UsageError(f"unknown topic(s) {unknown}; projects here: {found}")
    return wanted or found


def pytest_configure(config: pytest.Config) -> None:
    # The controlling run (not an xdist worker) tags this session's results in .matrix/, so the
    # matrix shows what ran now, whichever process ran it.
    if not hasattr(config, "workerinput"):
        os.environ[SESSION_VAR] = uuid.uuid4().hex


@pytest.fixture(scope="session")
def repo(request: pytest.FixtureRequest) -> Path:
    """The repository under test (this one, unless --repo-root points elsewhere)."""
    return repo_root(request.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "topic" in metafunc.fixturenames:
        metafunc.parametrize("topic", selected_topics(metafunc.config))


def progress_printer(config: pytest.Config):
    """A function printing `[project] stage (N s)` to the terminal, past pytest's capture."""
    capman = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    in_worker = hasattr(config, "workerinput")

    def say(topic: str, stage: str, seconds: float) -> None:
        text = f"[{topic}] {stage} ({seconds:.0f} s)"
        with capman.global_and_fixture_disabled():
            if reporter is not None and not in_worker:
                reporter.write_line(text)
            else:  # an xdist worker: its stderr is the terminal's
                sys.stderr.write(text + "\n")
                sys.stderr.flush()

    return say


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    root = repo_root(config)
    table = shared_version_table(root)
    if table:
        terminalreporter.section("shared library versions (from each project's uv.lock)")
        for name, by_topic in sorted(table.items()):
            versions = sorted(set(by_topic.values()))
            flag = "" if len(versions) == 1 else "   <-- MISMATCH"
            terminalreporter.write_line(
                f"{name:16} {' / '.join(versions)}  ({len(by_topic)} projects){flag}"
            )
    results = load_results(root / ".matrix", session=os.environ.get(SESSION_VAR, ""))
    if results:
        gpu = config.getoption("--gpu")
        if gpu == "auto":
            gpu += f" (nvidia-smi: {'a GPU' if gpu_present() else 'no GPU'})"
        header = mode_line(config.getoption("--other-cpu"), gpu, config.getoption("--env"))
        terminalreporter.section("topic matrix")
        for line in format_matrix(results, header).splitlines():
            terminalreporter.write_line(line)
