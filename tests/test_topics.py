"""One test per project: the project's own test suite, run in the project's own locked environment.

A failing project shows up by name (test_topic[overfitting]) with its failing tests and the tail
of its output; the full log and junit XML are kept in .matrix/ for a closer look. The matrix at
the end of the run is read from those files (see conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import progress_printer
from runner import run_topic

LOG_TAIL_LINES = 40


def test_topic(topic: str, repo: Path, request: pytest.FixtureRequest) -> None:
    config = request.config
    result = run_topic(
        repo / topic,
        env_mode=config.getoption("--env"),
        gpu=config.getoption("--gpu"),
        report_dir=repo / ".matrix",
        other_cpu=config.getoption("--other-cpu"),
        last_failed=bool(config.getoption("lf", False)),
        progress=progress_printer(config),
    )
    if not result.ok:
        log = (repo / ".matrix" / f"{topic}.log").read_text(errors="replace")
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        failing = "".join(f"\n  {tid}" for tid in result.failures)
        pytest.fail(
            f"topic {topic}: {result.problem or f'{result.failed} test(s) failed:'}{failing}\n"
            f"--- last {LOG_TAIL_LINES} lines (full log: .matrix/{topic}.log) ---\n{tail}",
            pytrace=False,
        )
