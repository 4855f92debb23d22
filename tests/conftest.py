"""Options of the root test matrix, and the matrix printed at the end of the run.

    uv run pytest                                  # every topic, GPU tests where a GPU is found
    uv run pytest --topics=overfitting,model_sharing   # write the `=` (see README)
    uv run pytest --gpu=off                        # never run gpu-marked tests
    python -m pytest --env=current                 # use the active interpreter, not uv

Each option has an environment variable twin (ML_REPRO_TOPICS, ML_REPRO_GPU, ML_REPRO_ENV) for
CI systems and job scripts where editing the command line is awkward.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from checks import shared_version_table
from runner import (
    DEVICE_KEY,
    REPO_ROOT,
    RESULTS_KEY,
    discover_topics,
    format_matrix,
    gpu_present,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ml-repro", "root test matrix")
    group.addoption(
        "--topics",
        default=os.environ.get("ML_REPRO_TOPICS", ""),
        help="comma-separated topic folders to run (default: all) [ML_REPRO_TOPICS]",
    )
    group.addoption(
        "--gpu",
        choices=["auto", "on", "off"],
        default=os.environ.get("ML_REPRO_GPU", "auto"),
        help="gpu-marked tests: auto = run where nvidia-smi sees a GPU (topics skip them "
        "with a reason elsewhere), on = run them, off = deselect them [ML_REPRO_GPU]",
    )
    group.addoption(
        "--env",
        choices=["uv", "current"],
        default=os.environ.get("ML_REPRO_ENV", "uv"),
        help="uv = each topic's own locked environment (uv sync --locked); current = the "
        "active interpreter, for HPC modules, containers, offline GPU machines [ML_REPRO_ENV]",
    )
    group.addoption(
        "--repo-root",
        default=str(REPO_ROOT),
        help="repository to test (the runner's own tests point it at throwaway copies)",
    )


def repo_root(config: pytest.Config) -> Path:
    return Path(config.getoption("--repo-root")).resolve()


def selected_topics(config: pytest.Config) -> list[str]:
    """Topics to run: all discovered ones, or those named with --topics (unknown names fail)."""
    found = discover_topics(repo_root(config))
    wanted = [t.strip().strip("/") for t in config.getoption("--topics").split(",") if t.strip()]
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise pytest.UsageError(f"unknown topic(s) {unknown}; topics here: {found}")
    return wanted or found


def pytest_configure(config: pytest.Config) -> None:
    gpu = config.getoption("--gpu")
    found = gpu_present() if gpu == "auto" else gpu == "on"
    config.stash[DEVICE_KEY] = "cuda" if found else "cpu"
    config.stash[RESULTS_KEY] = []


@pytest.fixture(scope="session")
def repo(request: pytest.FixtureRequest) -> Path:
    """The repository under test (this one, unless --repo-root points elsewhere)."""
    return repo_root(request.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "topic" in metafunc.fixturenames:
        metafunc.parametrize("topic", selected_topics(metafunc.config))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    table = shared_version_table(repo_root(config))
    if table:
        terminalreporter.section("shared library versions (from each topic's uv.lock)")
        for name, by_topic in sorted(table.items()):
            versions = sorted(set(by_topic.values()))
            flag = "" if len(versions) == 1 else "   <-- MISMATCH"
            terminalreporter.write_line(
                f"{name:16} {' / '.join(versions)}  ({len(by_topic)} topics){flag}"
            )
    results = config.stash.get(RESULTS_KEY, [])
    if results:
        terminalreporter.section("topic matrix")
        for line in format_matrix(results).splitlines():
            terminalreporter.write_line(line)
