"""The root test runner's machinery: find topics, run each one's own tests, read the results.

Every topic is its own uv project with its own locked environment, so the root never imports
topic code. It runs `uv sync --locked` and `uv run --locked pytest` inside each topic folder (or
the active interpreter, for clusters and containers), reads the junit XML that pytest writes, and
turns it into one row of the matrix printed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Folders at the top level that are never topics even if one day they hold a pyproject.toml.
NOT_TOPICS = {"tests", "node_modules", ".ci", ".github", ".git", ".venv"}
TOPIC_TIMEOUT_S = int(os.environ.get("ML_REPRO_TOPIC_TIMEOUT", "1800"))


def discover_topics(root: Path = REPO_ROOT) -> list[str]:
    """Top-level folders with a pyproject.toml, sorted by name."""
    return sorted(
        p.parent.name
        for p in root.glob("*/pyproject.toml")
        if p.parent.name not in NOT_TOPICS and not p.parent.name.startswith(".")
    )


def gpu_present() -> bool:
    """True when nvidia-smi lists at least one GPU (the cheap check: no torch import needed)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


@dataclass
class TopicResult:
    """One row of the matrix: what a topic's own pytest run reported."""

    topic: str
    device: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    returncode: int | None = None
    problem: str | None = None  # set when the topic could not be run or reported nothing
    log: str = ""
    skip_reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None and self.returncode == 0 and self.failed == 0

    @property
    def status(self) -> str:
        return "ok" if self.ok else "FAILED"


def read_junit(path: Path) -> tuple[int, int, int, list[str]]:
    """(passed, failed, skipped, skip reasons) from a pytest junit XML file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    passed = failed = skipped = 0
    reasons: list[str] = []
    for suite in suites:
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif (skip := case.find("skipped")) is not None:
                skipped += 1
                reasons.append(f"{case.get('name')}: {skip.get('message', '')}")
            else:
                passed += 1
        # Errors outside any test (e.g. a conftest that cannot import) still count as failures.
        failed += sum(1 for _ in suite.findall("error"))
    return passed, failed, skipped, reasons


def topic_command(env_mode: str, gpu: str, junit: Path) -> list[str]:
    """The pytest command run inside a topic folder."""
    if env_mode == "current":
        # HPC module, container or a lent GPU machine: the interpreter already active.
        base = [os.environ.get("ML_REPRO_PYTHON", sys.executable), "-m", "pytest"]
    else:
        base = ["uv", "run", "--locked", "--no-sync", "pytest"]
    cmd = [*base, "-p", "no:cacheprovider", f"--junitxml={junit}", "-q"]
    if gpu == "off":
        cmd += ["-m", "not gpu"]
    return cmd


def run_topic(
    topic_dir: Path, *, env_mode: str, gpu: str, device: str, report_dir: Path
) -> TopicResult:
    """Sync the topic's locked environment (uv mode), run its tests, and read their junit XML."""
    topic = topic_dir.name
    result = TopicResult(topic=topic, device=device)
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / f"{topic}.xml"
    junit.unlink(missing_ok=True)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "ML_REPRO_GPU": gpu}
    env.pop("VIRTUAL_ENV", None)  # the root's venv must not leak into the topic's uv run
    # Some machines set PYTHONDONTWRITEBYTECODE=1: then every fresh test process recompiles
    # torch & co. from source (tens of seconds each). Let the topic's venv cache its bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    log_parts: list[str] = []
    try:
        if env_mode == "uv":
            sync = subprocess.run(
                ["uv", "sync", "--locked"],
                cwd=topic_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=TOPIC_TIMEOUT_S,
            )
            log_parts.append(f"$ uv sync --locked\n{sync.stdout}{sync.stderr}")
            if sync.returncode != 0:
                result.problem = "uv sync --locked failed (is uv.lock up to date?)"
                return result
        cmd = topic_command(env_mode, gpu, junit)
        run = subprocess.run(
            cmd, cwd=topic_dir, env=env, capture_output=True, text=True, timeout=TOPIC_TIMEOUT_S
        )
        log_parts.append(f"$ {' '.join(cmd)}\n{run.stdout}{run.stderr}")
        result.returncode = run.returncode
        if not junit.is_file():
            result.problem = f"pytest wrote no report (exit {run.returncode})"
            return result
        result.passed, result.failed, result.skipped, result.skip_reasons = read_junit(junit)
        if result.passed + result.failed + result.skipped == 0:
            result.problem = "no tests were collected"
        elif run.returncode != 0 and result.failed == 0:
            result.problem = f"pytest exited {run.returncode}"
    except subprocess.TimeoutExpired:
        result.problem = f"timed out after {TOPIC_TIMEOUT_S} s"
    finally:
        result.seconds = time.perf_counter() - started
        result.log = "\n".join(log_parts)
        (report_dir / f"{topic}.log").write_text(result.log)
    return result


def format_matrix(results: list[TopicResult]) -> str:
    """The table printed at the end of a root run."""
    header = ["topic", "result", "passed", "failed", "skipped", "seconds", "device"]
    rows = [
        [r.topic, r.status, r.passed, r.failed, r.skipped, f"{r.seconds:.1f}", r.device]
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*row) for row in rows]
    out = [row.rstrip() for row in out]
    total = sum(r.seconds for r in results)
    out.append(f"{len(results)} topic(s), {total:.1f} s in topic runs")
    out += [f"  {r.topic}: {r.problem}" for r in results if r.problem]
    return "\n".join(out)


# Session state shared by conftest.py (which prints the matrix) and test_topics.py (which fills it).
DEVICE_KEY = pytest.StashKey[str]()
RESULTS_KEY = pytest.StashKey[list[TopicResult]]()
