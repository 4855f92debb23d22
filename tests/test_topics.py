"""One test per topic: the topic's own test suite, run in the topic's own locked environment.

A failing topic shows up by name (test_topic[overfitting]) with the tail of its output; the full
log and junit XML are kept in .matrix/ for a closer look.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runner import DEVICE_KEY, RESULTS_KEY, run_topic

LOG_TAIL_LINES = 60


def test_topic(topic: str, repo: Path, request: pytest.FixtureRequest) -> None:
    config = request.config
    result = run_topic(
        repo / topic,
        env_mode=config.getoption("--env"),
        gpu=config.getoption("--gpu"),
        device=config.stash[DEVICE_KEY],
        report_dir=repo / ".matrix",
    )
    config.stash[RESULTS_KEY].append(result)
    tail = "\n".join(result.log.splitlines()[-LOG_TAIL_LINES:])
    if not result.ok:
        pytest.fail(
            f"topic {topic}: {result.problem or f'{result.failed} test(s) failed'}\n"
            f"--- last {LOG_TAIL_LINES} lines (full log: .matrix/{topic}.log) ---\n{tail}",
            pytrace=False,
        )
