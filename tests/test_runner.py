"""The runner's own tests: plant a fault in a throwaway repository and check it is reported
by name with a non-zero exit. A checker that never fails proves nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from checks import (
    MAX_RECEIPT_LINES,
    check_cross_imports,
    check_exercises,
    check_file_sizes,
    check_locks,
    check_no_load_average,
    check_plumbing,
    check_pre_commit_pins,
    check_receipt_fields_documented,
    check_receipt_size,
    check_receipts_identical,
    check_receipts_verified,
    check_skeleton,
    check_source_sizes,
    receipt_fields,
)
from runner import (
    TopicResult,
    discover_projects,
    discover_topics,
    format_matrix,
    read_junit,
)

TESTS_DIR = Path(__file__).resolve().parent
UV_ENV = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
UV_ENV.pop("VIRTUAL_ENV", None)


def make_topic(
    root: Path,
    name: str,
    test_body: str = "assert 1 + 1 == 2",
    code: str = "",
    *,
    tests: str | None = None,
    conftest: str = "",
    slides: bool = True,
) -> Path:
    """A minimal but complete topic: uv project, package, tests, README, slides, lock.

    `tests` replaces the one-test file; `conftest` becomes tests/conftest.py."""
    topic = root / name
    (topic / "src" / name).mkdir(parents=True)
    (topic / "tests").mkdir()
    (topic / "src" / name / "__init__.py").write_text(code)
    (topic / "tests" / "test_it.py").write_text(
        tests if tests is not None else f"def test_it():\n    {test_body}\n"
    )
    if conftest:
        (topic / "tests" / "conftest.py").write_text(conftest)
    (topic / "README.md").write_text(f"# {name}\n")
    if slides:
        (topic / "slides.md").write_text("---\nmarp: true\n---\n\n# hi\n")
    (topic / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name.replace("_", "-")}"
            version = "0.1.0"
            requires-python = ">=3.11"
            dependencies = []

            [dependency-groups]
            dev = ["pytest>=8"]

            [tool.uv]
            package = false

            [tool.pytest.ini_options]
            pythonpath = ["src"]
            markers = ["gpu: needs a CUDA GPU"]
            """
        )
    )
    subprocess.run(["uv", "lock", "-q"], cwd=topic, env=UV_ENV, check=True)
    return topic


def run_root_tests(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The root test suite run against another repository, as a separate pytest process.

    Its own cache lives in the throwaway repository (`--lf` works there, this one is untouched)."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", f"--repo-root={repo}"),
            *("-o", f"cache_dir={repo / '.root_cache'}"),
            *args,
        ],
        cwd=TESTS_DIR.parent,
        capture_output=True,
        text=True,
        env={**UV_ENV, **(env or {})},
        timeout=600,
    )


def matrix_rows(out: str) -> dict[str, list[str]]:
    """project -> its row's first six cells in the printed matrix (the seconds left out)."""
    matrix = out.split("topic matrix", 1)[1].split("skipped tests", 1)[0]
    matrix = matrix.split("failing tests", 1)[0].split("slowest tests", 1)[0]
    rows = {}
    for line in matrix.splitlines():
        cells = line.split()
        if len(cells) == 7 and cells[1] in {"ok", "FAILED"}:
            rows[cells[0]] = cells[:5] + cells[6:]
    return rows


@pytest.fixture(scope="module")
def faulty_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three topics, each with one planted fault; a fourth that is clean."""
    repo = tmp_path_factory.mktemp("faulty")
    make_topic(repo, "clean_topic")
    stale = make_topic(repo, "stale_lock")
    text = (stale / "pyproject.toml").read_text()
    (stale / "pyproject.toml").write_text(
        text.replace("dependencies = []", 'dependencies = ["iniconfig"]')
    )
    dirty = make_topic(repo, "dirty_notebook")
    (dirty / "notebooks").mkdir()
    cell = {
        "cell_type": "code",
        "source": "1+1",
        "metadata": {},
        "execution_count": 3,
        "outputs": [
            {
                "output_type": "execute_result",
                "data": {"text/plain": "2"},
                "metadata": {},
                "execution_count": 3,
            }
        ],
    }
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (dirty / "notebooks" / "run.ipynb").write_text(json.dumps(notebook))
    # The same notebook kept as evidence under fixtures/ is allowed.
    (dirty / "fixtures").mkdir()
    (dirty / "fixtures" / "evidence.ipynb").write_text(json.dumps(notebook))
    make_topic(repo, "borrower", code="from clean_topic import something  # not allowed\n")
    return repo


def test_planted_faults_are_reported_by_name(faulty_repo: Path) -> None:
    run = run_root_tests(
        faulty_repo,
        "tests/test_repo.py",
        "-k",
        "locks or notebooks or stand_alone",
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "stale_lock: uv.lock is stale" in out
    assert "dirty_notebook/notebooks/run.ipynb" in out
    assert "evidence.ipynb" not in out
    assert "topic borrower imports topic clean_topic" in out
    assert "clean_topic:" not in out.replace("imports topic clean_topic", "")


# The gpu block every topic's tests/conftest.py carries, with this planted topic's check: no GPU.
GPU_CONFTEST = """
import os
from pathlib import Path

import pytest

GPU_MISSING = pytest.StashKey[str]()


def pytest_collection_modifyitems(config, items):
    usable = False  # this planted topic never sees a GPU
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
"""

MIXED_TESTS = """
import time

import pytest


def test_passes():
    time.sleep(0.3)  # the slowest test here


def test_planted_failure():
    assert 0.94 >= 0.95, "accuracy too low"


def test_planted_skip():
    pytest.skip("planted: needs the moon")


@pytest.mark.gpu
def test_on_the_gpu():
    pass
"""


@pytest.fixture(scope="module")
def mixed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean topic, a topic with a failure, a skip and a gpu test, and a tool project."""
    repo = tmp_path_factory.mktemp("mixed")
    make_topic(repo, "good_topic")
    make_topic(repo, "bad_topic", tests=MIXED_TESTS, conftest=GPU_CONFTEST)
    make_topic(repo, "repro_check", slides=False)  # a tool project (runner.TOOL_PROJECTS)
    return repo


@pytest.fixture(scope="module")
def mixed_run(mixed_repo: Path) -> subprocess.CompletedProcess[str]:
    return run_root_tests(mixed_repo, "tests/test_topics.py")


def test_failing_topic_fails_the_matrix_by_name(mixed_run: subprocess.CompletedProcess) -> None:
    out = mixed_run.stdout + mixed_run.stderr
    assert mixed_run.returncode != 0, out
    assert "FAILED tests/test_topics.py::test_topic[bad_topic]" in out
    # The matrix is printed with one row per project, parsed from junit XML; the device column
    # is what the project's own conftest saw ("-" where it says nothing).
    rows = matrix_rows(out)
    assert rows["bad_topic"] == ["bad_topic", "FAILED", "1", "1", "2", "cpu"]
    assert rows["good_topic"] == ["good_topic", "ok", "1", "0", "0", "-"]
    assert rows["repro_check"] == ["repro_check", "ok", "1", "0", "0", "-"]
    assert "mode: native CPU kernels; gpu=auto" in out


def test_skips_failures_and_slow_tests_are_listed_under_the_matrix(
    mixed_run: subprocess.CompletedProcess,
) -> None:
    below = mixed_run.stdout.split("topic matrix", 1)[1]
    skipped = below.split("skipped tests (count x reason):", 1)[1].split("failing tests")[0]
    assert re.search(r"bad_topic\s+1 x planted: needs the moon", skipped), below
    assert re.search(r"bad_topic\s+1 x needs a CUDA GPU", skipped), below
    failing = below.split("failing tests (first 5 per project):", 1)[1].split("slowest")[0]
    assert failing.split() == ["bad_topic", "tests/test_it.py::test_planted_failure"], below
    slowest = below.split("slowest tests (3 per project):", 1)[1].splitlines()
    bad = [line.split() for line in slowest if line.split()[:1] == ["bad_topic"]]
    assert len(bad) == 3 and bad[0][-1] == "tests/test_it.py::test_passes", below
    assert float(bad[0][1]) >= 0.3


def test_progress_lines_show_each_stage(mixed_run: subprocess.CompletedProcess) -> None:
    out = mixed_run.stdout
    stages = re.findall(r"^\[bad_topic\] (syncing|testing|done, FAILED) \(\d+ s\)$", out, re.M)
    assert stages == ["syncing", "testing", "done, FAILED"], out


def test_gpu_on_fails_the_gpu_tests_that_cannot_run(mixed_repo: Path) -> None:
    run = run_root_tests(mixed_repo, "tests/test_topics.py", "--gpu=on", "--topics=bad_topic")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    failing = out.split("failing tests (first 5 per project):", 1)[1].split("slowest")[0]
    assert "tests/test_it.py::test_on_the_gpu" in failing.split(), out
    assert matrix_rows(out)["bad_topic"] == ["bad_topic", "FAILED", "1", "2", "1", "cpu"]
    assert (
        "--gpu=on: this gpu test must run, but needs a CUDA GPU"
        in (mixed_repo / ".matrix" / "bad_topic.log").read_text()
    )


def test_xdist_prints_the_same_matrix_rows(
    mixed_repo: Path, mixed_run: subprocess.CompletedProcess
) -> None:
    parallel = run_root_tests(mixed_repo, "tests/test_topics.py", "-n", "2")
    assert "created: 2/2 workers" in parallel.stdout, parallel.stdout + parallel.stderr
    assert matrix_rows(parallel.stdout) == matrix_rows(mixed_run.stdout)
    assert len(matrix_rows(parallel.stdout)) == 3


def test_lf_reruns_only_the_failed_tests_of_a_topic(tmp_path: Path) -> None:
    tests = "def test_a():\n    pass\n\n\ndef test_b():\n    assert False\n"
    make_topic(tmp_path, "flaky", tests=tests)
    make_topic(tmp_path, "fine")
    first = run_root_tests(tmp_path, "tests/test_topics.py")
    assert matrix_rows(first.stdout)["flaky"][:5] == ["flaky", "FAILED", "1", "1", "0"]
    again = run_root_tests(tmp_path, "tests/test_topics.py", "--lf")
    # Only the failed project ran, and inside it only its failed test.
    assert list(matrix_rows(again.stdout)) == ["flaky"], again.stdout
    assert matrix_rows(again.stdout)["flaky"][:5] == ["flaky", "FAILED", "0", "1", "0"]
    assert "--lf" in (tmp_path / ".matrix" / "flaky.log").read_text()


def test_other_cpu_exports_the_kernel_variables(tmp_path: Path) -> None:
    tests = textwrap.dedent(
        """\
        import os


        def test_kernels():
            assert os.environ.get("ATEN_CPU_CAPABILITY") == "default"
            assert os.environ.get("MKL_CBWR") == "COMPATIBLE"
        """
    )
    make_topic(tmp_path, "kernels", tests=tests)
    native = run_root_tests(tmp_path, "tests/test_topics.py", env={"ATEN_CPU_CAPABILITY": ""})
    assert native.returncode != 0 and "mode: native CPU kernels" in native.stdout
    other = run_root_tests(tmp_path, "tests/test_topics.py", env={"ML_REPRO_OTHER_CPU": "1"})
    assert other.returncode == 0, other.stdout + other.stderr
    assert "mode: other CPU (ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE)" in other.stdout


HANGING_TESTS = """
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(900)"


def test_quick():
    pass


def test_hangs():
    # A child that ignores SIGINT (a server), and one in a session of its own (a daemon).
    stubborn = subprocess.Popen([sys.executable, "-c", CHILD, "planted-stubborn"])
    daemon = subprocess.Popen([sys.executable, "-c", CHILD, "planted-daemon"],
                              start_new_session=True)
    Path(os.environ["PIDS_FILE"]).write_text(f"{stubborn.pid} {daemon.pid}")
    print("children started", flush=True)
    time.sleep(900)
"""


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_hanging_topic_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    make_topic(tmp_path, "hangs", tests=HANGING_TESTS)
    pids_file = tmp_path / "pids"
    run = run_root_tests(
        tmp_path,
        "tests/test_topics.py",
        env={"ML_REPRO_TOPIC_TIMEOUT": "30", "PIDS_FILE": str(pids_file)},
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 2
    assert [pid for pid in pids if alive(pid)] == [], "processes outlived the topic's timeout"
    # The output up to the kill is in the log, and the test that finished still counts.
    log = (tmp_path / ".matrix" / "hangs.log").read_text()
    assert "stopped at the time limit" in log and "KeyboardInterrupt" in log, log
    assert matrix_rows(out)["hangs"][:5] == ["hangs", "FAILED", "1", "0", "0"]
    assert re.search(r"hangs: timed out after 30 s, stopped at \S*tests/test_it.py:\d+", out)


def test_topics_option_selects_and_rejects(tmp_path: Path) -> None:
    make_topic(tmp_path, "only_me")
    run = run_root_tests(tmp_path, "tests/test_topics.py", "--topics=nope", "--collect-only")
    assert run.returncode != 0
    assert "unknown topic(s) ['nope']" in run.stdout + run.stderr


def test_skeleton_and_size_checks_name_the_culprit(tmp_path: Path) -> None:
    topic = make_topic(tmp_path, "thin")
    (topic / "slides.md").unlink()
    (topic / "weights.bin").write_bytes(b"\0" * (3 * 2**20))
    assert check_skeleton(tmp_path) == ["thin: missing slides.md"]
    assert check_file_sizes(tmp_path) == ["thin/weights.bin: 3.0 MiB (limit 2 MiB)"]
    assert discover_topics(tmp_path) == ["thin"]


def test_tool_projects_get_generic_checks_but_no_lesson_checks(tmp_path: Path) -> None:
    """A tool project (runner.TOOL_PROJECTS) is tested and checked like any project, but is
    not asked for slides, a receipt, exercises or a kernel; a lesson topic still is."""
    make_topic(tmp_path, "lesson", slides=False)
    tool = make_topic(tmp_path, "repro_check", slides=False, code="import lesson\n")
    assert discover_projects(tmp_path) == ["lesson", "repro_check"]
    assert discover_topics(tmp_path) == ["lesson"]
    assert check_skeleton(tmp_path) == ["lesson: missing slides.md"]
    assert [p.split(":")[0] for p in check_exercises(tmp_path)] == ["lesson"]
    assert check_receipts_identical(tmp_path) == [
        "lesson: missing src/lesson/receipt.py",
        "lesson: missing src/lesson/receipt_tools.py",
    ]
    # Generic checks reach it: its imports, its lock.
    assert check_cross_imports(tmp_path) == [
        "repro_check/src/repro_check/__init__.py: topic repro_check imports topic lesson"
    ]
    text = (tool / "pyproject.toml").read_text()
    (tool / "pyproject.toml").write_text(text.replace("[]", '["iniconfig"]', 1))
    assert [p.split(":")[0] for p in check_locks(tmp_path)] == ["repro_check"]
    (tool / "tests").rename(tool / "checks")
    assert check_skeleton(tmp_path) == [
        "lesson: missing slides.md",
        "repro_check: missing tests",
    ]


def test_reading_the_load_average_in_tests_or_exercises_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha"])
    topic = tmp_path / "alpha"
    (topic / "tests").mkdir()
    (topic / "exercises" / "01-x").mkdir(parents=True)
    (topic / "tests" / "test_t.py").write_text("import os\n\nload = os.getloadavg()[0]\n")
    (topic / "exercises" / "01-x" / "test_exercise.py").write_text(
        "busy = open('/proc/loadavg').read()\n"
    )
    (topic / "tests" / "helpers.py").write_text("import psutil\n\nx = psutil.getloadavg()\n")
    # The topic's own code may read it (a benchmark printing the load is fine).
    (topic / "src" / "alpha" / "bench.py").write_text("import os\n\nos.getloadavg()\n")
    assert check_no_load_average(tmp_path) == [
        "alpha/tests/helpers.py:3: reads the load average (getloadavg); print timings from "
        "a benchmark command instead",
        "alpha/tests/test_t.py:3: reads the load average (getloadavg); print timings from a "
        "benchmark command instead",
        "alpha/exercises/01-x/test_exercise.py:1: reads the load average (/proc/loadavg); "
        "print timings from a benchmark command instead",
    ]


def test_junit_is_read_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    xml = tmp_path / "r.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest" tests="5">'
        '<testcase classname="tests.test_x" name="a" time="0.5"/>'
        '<testcase classname="tests.test_x.TestK" name="b" time="2.0"><failure message="x"/>'
        "</testcase>"
        '<testcase classname="tests.test_x" name="c[1]" time="0.1">'
        '<skipped message="needs a CUDA GPU"/></testcase>'
        '<testcase classname="tests.test_x" name="c[2]" time="0.1">'
        '<skipped message="needs a CUDA GPU"/></testcase>'
        '<testcase classname="tests.test_x" name="d" time="1.0"><error message="fixture"/>'
        "</testcase></testsuite></testsuites>"
    )
    junit = read_junit(xml, tmp_path)
    assert (junit.passed, junit.failed, junit.skipped) == (1, 2, 2)
    assert junit.skip_reasons == ["needs a CUDA GPU"] * 2
    assert junit.failures == ["tests/test_x.py::TestK::b", "tests/test_x.py::d"]
    assert max(junit.durations, key=lambda d: d[1]) == ("tests/test_x.py::TestK::b", 2.0)
    result = TopicResult("t", "cpu", 1, 2, 2, 1.5, 1, skip_reasons=junit.skip_reasons)
    table = format_matrix([result]).splitlines()
    assert table[2].split() == ["t", "FAILED", "1", "2", "2", "1.5", "cpu"]
    assert table[table.index("skipped tests (count x reason):") + 1].split() == [
        *("t", "2", "x", "needs", "a", "CUDA", "GPU")
    ]


def test_env_current_uses_the_active_interpreter(tmp_path: Path) -> None:
    """--env=current runs topic tests with this interpreter: no uv sync, no topic .venv."""
    topic = make_topic(
        tmp_path,
        "preinstalled",
        test_body="import preinstalled; assert preinstalled.VALUE == 42",
        code="VALUE = 42\n",
    )
    run = run_root_tests(tmp_path, "tests/test_topics.py", "--env=current", "--gpu=off")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not (topic / ".venv").exists()
    log = (tmp_path / ".matrix" / "preinstalled.log").read_text()
    assert "uv sync" not in log and f"{sys.executable} -m pytest" in log


def fake_topics(root: Path, names: list[str]) -> None:
    """Bare topic folders (a pyproject is all discovery needs) with a copy of the real receipt."""
    real = next((TESTS_DIR.parent).glob("*/src/*/receipt.py"))
    for name in names:
        (root / name / "src" / name).mkdir(parents=True)
        (root / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        for part in ("receipt.py", "receipt_tools.py"):
            (root / name / "src" / name / part).write_bytes((real.parent / part).read_bytes())


def test_one_changed_byte_in_one_receipt_copy_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha", "beta", "gamma"])
    assert check_receipts_identical(tmp_path) == []
    odd = tmp_path / "beta" / "src" / "beta" / "receipt.py"
    data = bytearray(odd.read_bytes())
    data[100] ^= 0x01  # one bit of one byte
    odd.write_bytes(bytes(data))
    problems = check_receipts_identical(tmp_path)
    assert len(problems) == 1 and problems[0].startswith("beta/src/beta/receipt.py differs from")
    (tmp_path / "gamma" / "src" / "gamma" / "receipt.py").unlink()
    assert "gamma: missing src/gamma/receipt.py" in check_receipts_identical(tmp_path)


def test_one_changed_byte_in_one_receipt_tools_copy_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha", "beta", "gamma"])
    odd = tmp_path / "gamma" / "src" / "gamma" / "receipt_tools.py"
    odd.write_bytes(odd.read_bytes() + b"\n")
    problems = check_receipts_identical(tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith("gamma/src/gamma/receipt_tools.py differs from")


def test_a_receipt_py_over_the_line_budget_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha"])
    receipt = tmp_path / "alpha" / "src" / "alpha" / "receipt.py"
    assert check_receipt_size(tmp_path) == []  # the real file fits
    receipt.write_text("x = 1\n" * (MAX_RECEIPT_LINES + 1))
    (problem,) = check_receipt_size(tmp_path)
    assert problem.startswith(f"alpha/src/alpha/receipt.py has {MAX_RECEIPT_LINES + 1} lines")


def test_a_receipt_kind_without_a_verify_test_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha"])
    topic = tmp_path / "alpha"
    (topic / "pyproject.toml").write_text(
        '[project]\nname = "alpha"\n[project.scripts]\na-train = "alpha.train:main"\n'
        'a-plot = "alpha.plot:main"\n[tool.ml-repro.receipts]\nkinds = ["a-train", "torchrun"]\n'
    )
    (topic / "src" / "alpha" / "train.py").write_text("write_run_json(out)\n")
    (topic / "src" / "alpha" / "plot.py").write_text("print('no receipt')\n")
    (topic / "tests").mkdir()
    verifies = '@pytest.mark.verifies("a-train")\n@pytest.mark.verifies("torchrun")\n'
    (topic / "tests" / "test_train.py").write_text(verifies)
    assert check_receipts_verified(tmp_path) == []
    (topic / "tests" / "test_train.py").write_text(verifies.replace("torchrun", "a-typo"))
    assert check_receipts_verified(tmp_path) == [
        "alpha: no test marked @pytest.mark.verifies('torchrun') runs `receipt verify` on a"
        " torchrun receipt",
        "alpha: test_train.py verifies 'a-typo', which is not in [tool.ml-repro.receipts] kinds"
        " of its pyproject.toml",
    ]
    (topic / "src" / "alpha" / "plot.py").write_text("write_run_json(out)\n")  # a new writer
    assert "alpha: a-plot writes run.json but is not in [tool.ml-repro.receipts] kinds" in (
        check_receipts_verified(tmp_path)
    )
    pyproject = topic / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '[tool.ml-repro.receipts.exempt]\na-plot = "no"\n')
    assert not any("a-plot" in p for p in check_receipts_verified(tmp_path))


def test_undocumented_receipt_field_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha"])
    doc = "".join(f"| `{name}` | ... |\n" for name in receipt_fields(tmp_path))  # every field
    (tmp_path / "CONTRIBUTING.md").write_text(doc)
    assert "`MKL_CBWR`" in doc and check_receipt_fields_documented(tmp_path) == []
    (tmp_path / "CONTRIBUTING.md").write_text(doc.replace("`MKL_CBWR`", "MKL's mode"))
    assert check_receipt_fields_documented(tmp_path) == [
        "CONTRIBUTING.md does not document the receipt field `MKL_CBWR`"
    ]


def test_exercise_layout_faults_are_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha"])
    assert check_exercises(tmp_path) == ["alpha: 0 exercise(s) in exercises/, need 2"]
    for n in ("01-first", "02-second"):
        ex = tmp_path / "alpha" / "exercises" / n
        (ex / "solution").mkdir(parents=True)
        for f in ("README.md", "test_exercise.py", "train.py"):
            (ex / f).write_text("")
        (ex / "solution" / "train.py").write_text("")
    (tmp_path / "alpha" / "tests").mkdir()
    (tmp_path / "alpha" / "tests" / "test_exercises.py").write_text("")
    assert check_exercises(tmp_path) == []
    (tmp_path / "alpha" / "exercises" / "02-second" / "solution" / "train.py").unlink()
    (tmp_path / "alpha" / "exercises" / "01-first" / "test_exercise.py").unlink()
    assert check_exercises(tmp_path) == [
        "alpha/exercises/01-first: missing test_exercise.py",
        "alpha/exercises/02-second: solution/ holds none of the starter files' names",
    ]


def test_workflow_checks_catch_planted_faults(tmp_path: Path) -> None:
    """The workflow checks in test_repo.py fail on a workflow that drops uv's cache or prunes
    it, installs every system package in a project job, or leaves a project out of a matrix."""
    import test_repo  # the module, so pytest does not collect its tests a second time here

    fake_topics(tmp_path, ["environments", "scaling_multi_gpu"])
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    real_packages = (TESTS_DIR.parent / ".ci" / "apt-packages.txt").read_text()
    (tmp_path / ".ci" / "apt-packages.txt").write_text(real_packages)
    workflow = (TESTS_DIR.parent / ".github" / "workflows" / "ci.yml").read_text()
    for project in set(discover_projects(TESTS_DIR.parent)) - set(discover_projects(tmp_path)):
        workflow = workflow.replace(f"          - {project}\n", "")
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(workflow)
    checks = [
        test_repo.test_workflow_matrix_lists_every_project,
        test_repo.test_workflow_keeps_uv_cache_keyed_on_the_locks,
        test_repo.test_system_packages_are_installed_per_job,
        test_repo.test_workflow_runs_other_cpu_and_macos,
    ]
    for check in checks:
        check(tmp_path)  # the trimmed copy of the real workflow passes every check

    def fails(check, path: Path, old: str, new: str) -> None:
        original = path.read_text()
        assert old in original
        path.write_text(original.replace(old, new, 1))
        with pytest.raises(AssertionError):
            check(tmp_path)
        path.write_text(original)

    ci = tmp_path / ".github" / "workflows" / "ci.yml"
    fails(checks[0], ci, "          - environments\n", "")
    fails(checks[1], ci, "prune-cache: false", "prune-cache: true")
    fails(checks[1], ci, "enable-cache: true", "enable-cache: false")
    fails(checks[1], ci, "            ${{ matrix.topic }}/uv.lock\n", "")
    fails(checks[2], ci, "bash .ci/setup ${{ matrix.topic }}", "bash .ci/setup")
    fails(checks[2], tmp_path / ".ci" / "apt-packages.txt", "munge  ", "munge  environments #")
    fails(checks[3], ci, "runs-on: macos-14", "runs-on: ubuntu-24.04")
    fails(checks[3], ci, "--topics=${{ matrix.topic }} --other-cpu", "--topics=${{ matrix.topic }}")


def test_a_pre_commit_hook_at_another_version_than_the_lock_is_named(tmp_path: Path) -> None:
    topic = tmp_path / "notebooks_topic"
    (topic / "tests").mkdir(parents=True)
    (topic / "pyproject.toml").write_text('[project]\nname = "notebooks-topic"\nversion = "0"\n')
    (topic / "uv.lock").write_text('[[package]]\nname = "nbstripout"\nversion = "0.9.1"\n')
    hook = "repos:\n  - repo: https://github.com/kynan/nbstripout\n    rev: {}\n    hooks:\n"
    (tmp_path / ".pre-commit-config.yaml").write_text(hook.format("0.9.1"))
    assert check_pre_commit_pins(tmp_path) == []
    (topic / ".pre-commit-config.yaml").write_text(hook.format("0.8.1"))
    assert check_pre_commit_pins(tmp_path) == [
        "notebooks_topic/.pre-commit-config.yaml: nbstripout rev 0.8.1, but the locks hold 0.9.1"
    ]


def test_a_lesson_file_over_the_line_limit_is_named(tmp_path: Path) -> None:
    topic = make_topic(tmp_path, "wordy")
    code = topic / "src" / "wordy" / "train.py"
    code.write_text("x = 1\n" * 320)
    assert check_source_sizes(tmp_path) == []
    code.write_text("x = 1\n" * 321)
    (topic / "src" / "wordy" / "receipt_tools.py").write_text("x = 1\n" * 600)  # allowed
    assert check_source_sizes(tmp_path) == [
        "wordy/src/wordy/train.py: 321 lines (limit 320): split it by idea, or add it to"
        " LONG_SOURCES_ALLOWED with the reason"
    ]


def test_a_topic_without_the_common_edge_or_with_its_own_rename_is_named(tmp_path: Path) -> None:
    topic = make_topic(tmp_path, "edgy")
    names = "class BadInput(Exception): ...\nclass OneLineParser: ...\ndef run_at_edge(): ...\n"
    plumbing = topic / "src" / "edgy" / "plumbing.py"
    plumbing.write_text(names + "def finite_float(): ...\ndef check_out(): ...\n")
    assert check_plumbing(tmp_path) == []
    plumbing.write_text(names + "def check_out(): ...\n")
    (topic / "src" / "edgy" / "figures.py").write_text("import os\nos.replace(tmp, path)\n")
    assert check_plumbing(tmp_path) == [
        "edgy/src/edgy/plumbing.py: no `finite_float`",
        "edgy/src/edgy/figures.py: renames a temporary file itself; use the receipt's atomic_write",
    ]
