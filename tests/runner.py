"""The root test runner's machinery: find projects, run each one's own tests, read the results.

Every top-level project is its own uv project with its own locked environment, so the root never
imports project code. It runs `uv sync --locked` and `uv run --locked pytest` inside each project
folder (or the active interpreter, for clusters and containers) as a process group of its own,
writes the output to `.matrix/<project>.log` as it comes, and reads the junit XML that pytest
writes there. The matrix printed at the end is built from those files alone, so it is the same
whether the projects ran one after another or side by side (pytest-xdist, `-n auto`).

Projects are the lesson topics plus the tool projects named in TOOL_PROJECTS: every project's
tests run and every generic check applies to all of them; the lesson checks (slides, receipt,
exercises, kernels) apply to lesson topics only.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Folders at the top level that are never projects even if one day they hold a pyproject.toml.
NOT_PROJECTS = {"tests", "node_modules", ".ci", ".github", ".git", ".venv", ".matrix"}
# Top-level uv projects that are tools, not lessons: their tests run in the matrix and the
# generic checks apply, but they have no slides, receipt, exercises or kernel of their own.
TOOL_PROJECTS = {
    "repro_check": "a repo-review plugin learners run on their own repository, not a lesson",
    "docs": "the lesson website built from the topics, not a lesson of its own",
}
TOPIC_TIMEOUT_S = int(os.environ.get("ML_REPRO_TOPIC_TIMEOUT", "1800"))
# After the timeout pytest gets SIGINT (it stops, tears its fixtures down and still writes its
# junit XML); whatever is left of the process group this many seconds later is killed.
GRACE_S = 15
PROGRESS_EVERY_S = int(os.environ.get("ML_REPRO_PROGRESS_S", "30"))
# `--other-cpu`: the kernels another CPU would take, on this one. ATen's portable kernels differ
# from its AVX2/AVX512 ones on any x86 machine with AVX2; MKL's compatible path from its native
# one. On arm64 ATen's default is (except on SVE machines) the native path and MKL is not used,
# so there the mode changes nothing; the matrix header says so.
OTHER_CPU_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
SESSION_VAR = "ML_REPRO_SESSION"  # set by the controlling root run; tags this run's results


def discover_projects(root: Path = REPO_ROOT) -> list[str]:
    """Top-level folders with a pyproject.toml (lesson topics and tools), sorted by name."""
    return sorted(
        p.parent.name
        for p in root.glob("*/pyproject.toml")
        if p.parent.name not in NOT_PROJECTS and not p.parent.name.startswith(".")
    )


def discover_topics(root: Path = REPO_ROOT) -> list[str]:
    """The lesson topics: every project except the tools in TOOL_PROJECTS."""
    return [p for p in discover_projects(root) if p not in TOOL_PROJECTS]


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


def mode_line(other_cpu: bool, gpu: str, env_mode: str) -> str:
    """The line above the matrix: which kernels, which GPU mode, which environments ran."""
    if other_cpu:
        kernels = "other CPU (" + " ".join(f"{k}={v}" for k, v in OTHER_CPU_ENV.items()) + ")"
        if platform.machine().lower() not in {"x86_64", "amd64", "i686", "x86"}:
            kernels += f" - on {platform.machine()} this is (except on SVE CPUs) the native path"
    else:
        kernels = "native CPU kernels"
    return f"mode: {kernels}; gpu={gpu}; env={env_mode}"


# --- reading a project's junit XML -----------------------------------------------------------


@dataclass
class Junit:
    """What one junit XML file says, test by test."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)  # one per skipped test
    failures: list[str] = field(default_factory=list)  # test ids, in run order
    durations: list[tuple[str, float]] = field(default_factory=list)  # (test id, seconds)


def node_id(classname: str, name: str, project_dir: Path | None) -> str:
    """pytest's node id (tests/test_x.py::Class::test) from junit's dotted classname."""
    parts = [p for p in classname.split(".") if p]
    if project_dir is not None:
        for k in range(len(parts), 0, -1):
            if (project_dir / Path(*parts[:k])).with_suffix(".py").is_file():
                return "::".join(["/".join(parts[:k]) + ".py", *parts[k:], name])
    return "::".join(filter(None, [classname, name]))


def read_junit(path: Path, project_dir: Path | None = None) -> Junit:
    """Counts, skip reasons, failing test ids and per-test times from a pytest junit XML file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    out = Junit()
    for suite in suites:
        for case in suite.iter("testcase"):
            if not case.get("name"):  # the test an interrupt stopped half-way: no result
                continue
            tid = node_id(case.get("classname", ""), case.get("name", ""), project_dir)
            out.durations.append((tid, float(case.get("time") or 0.0)))
            if case.find("failure") is not None or case.find("error") is not None:
                out.failed += 1
                out.failures.append(tid)
            elif (skip := case.find("skipped")) is not None:
                out.skipped += 1
                out.skip_reasons.append(skip.get("message", "") or "(no reason given)")
            else:
                out.passed += 1
        # Errors outside any test (e.g. a conftest that cannot import) still count as failures.
        for error in suite.findall("error"):
            out.failed += 1
            out.failures.append(f"(outside any test) {error.get('message', '')}")
    return out


# --- running one project ---------------------------------------------------------------------


@dataclass
class TopicResult:
    """One row of the matrix: what a project's own pytest run reported."""

    topic: str
    device: str = "-"  # what the project's tests saw (its conftest writes it); "-" = not said
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    returncode: int | None = None
    problem: str | None = None  # set when the project could not be run or reported nothing
    skip_reasons: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    session: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None and self.returncode == 0 and self.failed == 0

    @property
    def status(self) -> str:
        return "ok" if self.ok else "FAILED"


def topic_command(env_mode: str, gpu: str, junit: Path, last_failed: bool = False) -> list[str]:
    """The pytest command run inside a project folder."""
    if env_mode == "current":
        # HPC module, container or a lent GPU machine: the interpreter already active.
        base = [os.environ.get("ML_REPRO_PYTHON", sys.executable), "-m", "pytest"]
    else:
        base = ["uv", "run", "--locked", "--no-sync", "pytest"]
    cmd = [*base, f"--junitxml={junit}", "-q"]
    if gpu == "off":
        cmd += ["-m", "not gpu"]
    if last_failed:  # the project's own cache (.pytest_cache in its folder) knows what failed
        cmd += ["--lf"]
    return cmd


def topic_env(gpu: str, other_cpu: bool, device_file: Path) -> dict[str, str]:
    """The environment of a project run: the root's, plus what the project's conftest reads."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "ML_REPRO_GPU": gpu}
    env["ML_REPRO_DEVICE_FILE"] = str(device_file)  # the conftest writes "cpu" or "cuda" there
    env.pop("VIRTUAL_ENV", None)  # the root's venv must not leak into the project's uv run
    env.pop(SESSION_VAR, None)
    env.pop("PYTEST_XDIST_WORKER", None)  # an xdist worker's marks are not the project's
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    # Some machines set PYTHONDONTWRITEBYTECODE=1: then every fresh test process recompiles
    # torch & co. from source (tens of seconds each). Let the project's venv cache its bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if other_cpu:
        env.update(OTHER_CPU_ENV)
    return env


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc (Linux); [] where there is no /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def group_members(pgid: int) -> list[int]:
    """Processes still in process group `pgid` (Linux /proc); [] where there is no /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def run_logged(
    cmd: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log,
    deadline: float,
    tick: Callable[[], None],
) -> int | None:
    """Run `cmd` as its own process group with its output going straight into `log`.

    Returns its exit status, or None when it ran past `deadline`: then the command gets SIGINT
    (pytest stops, tears down and writes its report), and GRACE_S later its group gets SIGKILL, with every process below it (also one that started a session
    of its own). Processes the command leaves behind after a normal exit are killed too.
    """
    log.write(f"$ {shlex.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: os.killpg reaches all of it
    )
    returncode: int | None = None
    try:
        while returncode is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                returncode = proc.wait(timeout=min(left, 1.0))
            except subprocess.TimeoutExpired:
                tick()
    finally:
        if returncode is None:  # timed out, or the root run itself was interrupted
            below = descendants(proc.pid)
            # SIGINT to the leader only: `uv run` passes it on to pytest, and a second one
            # straight from the group would interrupt pytest's own clean-up.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=GRACE_S)
            signal_group(proc.pid, signal.SIGKILL)
            kill_pids(below)
            proc.wait()
            log.write(f"\n--- stopped at the time limit: process group {proc.pid} killed ---\n")
        else:
            left_over = group_members(proc.pid)
            signal_group(proc.pid, signal.SIGKILL)
            if left_over:
                log.write(
                    f"\n--- {len(left_over)} process(es) left running by this command were "
                    f"killed: {left_over} ---\n"
                )
        log.flush()
    return returncode


def run_topic(
    topic_dir: Path,
    *,
    env_mode: str,
    gpu: str,
    report_dir: Path,
    other_cpu: bool = False,
    last_failed: bool = False,
    timeout_s: float | None = None,
    progress: Callable[[str, str, float], None] | None = None,
) -> TopicResult:
    """Sync the project's locked environment (uv mode), run its tests, and read their junit XML.

    Writes `<project>.log` (the output, as it comes), `<project>.xml` (pytest's junit),
    `<project>.device` (the device the project's tests saw) and `<project>.json` (this result)
    into `report_dir`. `progress(project, stage, seconds)` is called at each stage and every
    PROGRESS_EVERY_S seconds in between.
    """
    topic = topic_dir.name
    timeout_s = TOPIC_TIMEOUT_S if timeout_s is None else timeout_s
    report_dir.mkdir(parents=True, exist_ok=True)
    files = {k: report_dir / f"{topic}.{k}" for k in ("xml", "log", "device", "json")}
    for path in files.values():
        path.unlink(missing_ok=True)
    result = TopicResult(topic=topic, session=os.environ.get(SESSION_VAR, ""))
    env = topic_env(gpu, other_cpu, files["device"])
    started = time.monotonic()
    deadline = started + timeout_s
    say = progress or (lambda *_: None)
    stage = "syncing" if env_mode == "uv" else "testing"
    last_said = [started]

    def tick() -> None:
        if time.monotonic() - last_said[0] >= PROGRESS_EVERY_S:
            last_said[0] = time.monotonic()
            say(topic, stage, time.monotonic() - started)

    with files["log"].open("w") as log:
        try:
            if env_mode == "uv":
                say(topic, stage, 0.0)
                sync = ["uv", "sync", "--locked"]
                rc = run_logged(sync, cwd=topic_dir, env=env, log=log, deadline=deadline, tick=tick)
                if rc is None:
                    result.problem = f"timed out after {timeout_s:.0f} s (while syncing)"
                elif rc != 0:
                    result.problem = "uv sync --locked failed (is uv.lock up to date?)"
            if result.problem is None:
                stage = "testing"
                say(topic, stage, time.monotonic() - started)
                cmd = topic_command(env_mode, gpu, files["xml"], last_failed)
                rc = run_logged(cmd, cwd=topic_dir, env=env, log=log, deadline=deadline, tick=tick)
                result.returncode = rc
                if rc is None:
                    result.problem = f"timed out after {timeout_s:.0f} s"
        finally:
            result.seconds = time.monotonic() - started
    if result.problem and result.problem.startswith("timed out"):
        # pytest names the line the interrupt stopped: most often the test that hung.
        where = re.findall(r"^(\S+:\d+): KeyboardInterrupt$", files["log"].read_text(), re.M)
        if where:
            result.problem += f", stopped at {where[-1]}"
    if files["xml"].is_file():
        try:
            junit = read_junit(files["xml"], topic_dir)
        except ET.ParseError as exc:
            result.problem = result.problem or f"unreadable junit XML ({exc})"
        else:
            result.passed, result.failed, result.skipped = junit.passed, junit.failed, junit.skipped
            result.skip_reasons, result.failures = junit.skip_reasons, junit.failures
            result.slowest = sorted(junit.durations, key=lambda d: -d[1])[:3]
            if result.problem is None and junit.passed + junit.failed + junit.skipped == 0:
                result.problem = "no tests were collected"
    elif result.problem is None:
        result.problem = f"pytest wrote no report (exit {result.returncode})"
    if result.problem is None and result.returncode not in (0, None) and result.failed == 0:
        result.problem = f"pytest exited {result.returncode}"
    if files["device"].is_file():
        result.device = files["device"].read_text().strip() or "-"
    files["json"].write_text(json.dumps(asdict(result), indent=1))
    say(topic, f"done, {result.status}", result.seconds)
    return result


def load_results(report_dir: Path, session: str | None = None) -> list[TopicResult]:
    """The rows of the matrix from `report_dir/*.json` (of one session, when given)."""
    results = []
    for path in sorted(report_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            data["slowest"] = [tuple(d) for d in data.get("slowest", [])]
            result = TopicResult(**data)
        except (OSError, ValueError, TypeError):
            continue
        if session is None or result.session == session:
            results.append(result)
    return sorted(results, key=lambda r: r.topic)


# --- the matrix ------------------------------------------------------------------------------

MAX_FAILURES_SHOWN = 5


def format_matrix(results: list[TopicResult], header: str = "") -> str:
    """The table printed at the end of a root run, with skips, failures and slow tests below."""
    columns = ["topic", "result", "passed", "failed", "skipped", "seconds", "device"]
    rows = [
        [r.topic, r.status, r.passed, r.failed, r.skipped, f"{r.seconds:.1f}", r.device]
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [header] if header else []
    out += [line.format(*columns), line.format(*("-" * w for w in widths))]
    out += [line.format(*row) for row in rows]
    out = [row.rstrip() for row in out]
    total = sum(r.seconds for r in results)
    out.append(f"{len(results)} project(s), {total:.1f} s in project runs")
    out += [f"  {r.topic}: {r.problem}" for r in results if r.problem]
    name_w = widths[0]
    skips = [
        f"  {r.topic:<{name_w}}  {count:>3} x {reason}"
        for r in results
        for reason, count in Counter(r.skip_reasons).most_common()
    ]
    if skips:
        out += ["skipped tests (count x reason):", *skips]
    failures = []
    for r in results:
        shown = r.failures[:MAX_FAILURES_SHOWN]
        failures += [f"  {r.topic:<{name_w}}  {tid}" for tid in shown]
        if len(r.failures) > len(shown):
            failures.append(
                f"  {r.topic:<{name_w}}  ... and {len(r.failures) - len(shown)} more "
                f"(.matrix/{r.topic}.xml)"
            )
    if failures:
        out += [f"failing tests (first {MAX_FAILURES_SHOWN} per project):", *failures]
    slowest = [
        f"  {r.topic:<{name_w}}  {seconds:7.1f} s  {tid}"
        for r in results
        for tid, seconds in r.slowest
    ]
    if slowest:
        out += ["slowest tests (3 per project):", *slowest]
    return "\n".join(out)
