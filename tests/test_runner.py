"""The runner's own tests: plant a fault in a throwaway repository and check it is reported
by name with a non-zero exit. A checker that never fails proves nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from checks import (
    check_exercises,
    check_file_sizes,
    check_receipt_fields_documented,
    check_receipts_identical,
    check_skeleton,
)
from runner import TopicResult, discover_topics, format_matrix, read_junit

TESTS_DIR = Path(__file__).resolve().parent
UV_ENV = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
UV_ENV.pop("VIRTUAL_ENV", None)


def make_topic(root: Path, name: str, test_body: str = "assert 1 + 1 == 2", code: str = "") -> Path:
    """A minimal but complete topic: uv project, package, one test, README, slides, lock."""
    topic = root / name
    (topic / "src" / name).mkdir(parents=True)
    (topic / "tests").mkdir()
    (topic / "src" / name / "__init__.py").write_text(code)
    (topic / "tests" / "test_it.py").write_text(f"def test_it():\n    {test_body}\n")
    (topic / "README.md").write_text(f"# {name}\n")
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
            """
        )
    )
    subprocess.run(["uv", "lock", "-q"], cwd=topic, env=UV_ENV, check=True)
    return topic


def run_root_tests(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The root test suite run against another repository, as a separate pytest process."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--repo-root={repo}", *args],
        cwd=TESTS_DIR.parent,
        capture_output=True,
        text=True,
        env=UV_ENV,
        timeout=600,
    )


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


def test_failing_topic_fails_the_matrix_by_name(tmp_path: Path) -> None:
    make_topic(tmp_path, "good_topic")
    make_topic(tmp_path, "bad_topic", test_body="assert 0.94 >= 0.95, 'accuracy too low'")
    run = run_root_tests(tmp_path, "tests/test_topics.py", "--gpu=off")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "FAILED tests/test_topics.py::test_topic[bad_topic]" in out
    # The matrix is printed with one row per topic, parsed from junit XML.
    matrix = out.split("topic matrix", 1)[1]
    assert any(
        line.split()[:5] == ["bad_topic", "FAILED", "0", "1", "0"] for line in matrix.splitlines()
    )
    assert any(
        line.split()[:5] == ["good_topic", "ok", "1", "0", "0"] for line in matrix.splitlines()
    )


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


def test_junit_is_read_not_guessed(tmp_path: Path) -> None:
    xml = tmp_path / "r.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest" tests="4">'
        '<testcase name="a"/><testcase name="b"><failure message="x"/></testcase>'
        '<testcase name="c"><skipped message="needs a CUDA GPU"/></testcase>'
        '<testcase name="d"><error message="fixture"/></testcase>'
        "</testsuite></testsuites>"
    )
    passed, failed, skipped, reasons = read_junit(xml)
    assert (passed, failed, skipped) == (1, 2, 1)
    assert reasons == ["c: needs a CUDA GPU"]
    table = format_matrix([TopicResult("t", "cpu", passed, failed, skipped, 1.5, 1)])
    assert table.splitlines()[2].split() == ["t", "FAILED", "1", "2", "1", "1.5", "cpu"]


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
    real = next((TESTS_DIR.parent).glob("*/src/*/receipt.py")).read_bytes()
    for name in names:
        (root / name / "src" / name).mkdir(parents=True)
        (root / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        (root / name / "src" / name / "receipt.py").write_bytes(real)


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


def test_undocumented_receipt_field_is_named(tmp_path: Path) -> None:
    fake_topics(tmp_path, ["alpha"])
    doc = (TESTS_DIR.parent / "CONTRIBUTING.md").read_text()
    (tmp_path / "CONTRIBUTING.md").write_text(doc)
    assert check_receipt_fields_documented(tmp_path) == []
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
