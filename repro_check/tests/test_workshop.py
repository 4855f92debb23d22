"""Proof on real material: the seven topics pass, a typical research repository fails, and the
command line behaves like repo-review (formats, exit codes, --list-all with every lesson)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, TOPICS, WORKSHOP, run_check
from repo_review.processor import process
from repro_check.lessons import LESSONS, lesson_url
from repro_check.registry import CHECKS

needs_topics = pytest.mark.skipif(
    not all((WORKSHOP / t / "pyproject.toml").is_file() for t in TOPICS),
    reason="the workshop's seven topics are not beside this folder (repro_check copied alone)",
)
# Codes the research repository must fail, even as a copy outside git (with its git root's
# LICENSE and CITATION.cff out of reach, RC702 and RC703 fail too).
RESEARCH_FAILS = {"RC101", "RC104", "RC201", "RC202", "RC301", "RC302", "RC401", "RC501"}
RESEARCH_FAILS |= {"RC601", "RC602", "RC603", "RC701", "RC704"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """repo-review as a learner runs it, in this environment (where the plugin is installed)."""
    code = "import sys; from repo_review.__main__ import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def failed(results: list) -> set[str]:
    return {r.name for r in results if r.result is False}


@pytest.fixture(scope="module")
def topic_results() -> dict[str, list]:
    return {t: process(WORKSHOP / t)[1] for t in TOPICS}


@needs_topics
@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS)
def test_each_topic_passes(topic: str, topic_results: dict[str, list]) -> None:
    results = topic_results[topic]
    assert not failed(results), {r.name: r.err_msg for r in results if r.result is False}
    assert {r.name for r in results if r.result is True} >= {
        "RC101",
        "RC102",
        "RC104",
        "RC702",
        "RC703",
        "RC704",
        "RC705",
    }


@needs_topics
@pytest.mark.slow
def test_committed_receipts_of_a_topic_are_validated(topic_results: dict[str, list]) -> None:
    """overfitting commits example receipts: the workshop's own `validate` runs on them and passes."""
    rc502 = next(r for r in topic_results["overfitting"] if r.name == "RC502")
    assert rc502.result is True


@needs_topics
@pytest.mark.slow
def test_a_topic_without_its_lock_fails_naming_environments(tmp_path: Path) -> None:
    copy = shutil.copytree(
        WORKSHOP / "overfitting",
        tmp_path / "overfitting",
        ignore=shutil.ignore_patterns(".venv", "outputs"),
    )
    assert run_check("RC101", copy) is True
    (copy / "uv.lock").unlink()
    message = run_check("RC101", copy)
    assert "No lockfile" in message and "the `environments` topic" in message


def test_research_repository_fails_with_each_expected_code(research: Path) -> None:
    _families, results = process(research)
    assert failed(results) >= RESEARCH_FAILS | {"RC702", "RC703"}


def test_research_repository_in_place_fails_with_the_failure_code() -> None:
    done = cli(str(FIXTURES / "research_repo"), "--format", "json")
    assert done.returncode == 3, done.stderr
    checks = json.loads(done.stdout)["checks"]
    codes = {code for code, c in checks.items() if c["result"] is False}
    assert codes >= RESEARCH_FAILS and len(codes) >= 6


def test_a_project_that_passes_exits_0_in_every_format(good: Path) -> None:
    for fmt in ("rich", "json", "html"):
        done = cli(str(good), "--format", fmt)
        assert done.returncode == 0, done.stdout[-2000:]
    assert all(f"{c.__name__}" in done.stdout for c in CHECKS)  # the html report lists every check


def test_list_all_names_every_family_check_and_lesson() -> None:
    done = cli("--list-all")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # rich wraps long lines
    for family, (title, _topic, _what) in LESSONS.items():
        assert title in text and lesson_url(family) in text
    for check in CHECKS:
        assert f'"{check.__name__}"' in text


def test_repro_check_command_and_a_bad_path(good: Path, tmp_path: Path) -> None:
    script = [sys.executable, "-c", "from repro_check.cli import main; main()"]
    ok = subprocess.run(
        [*script, str(good), "--format", "json"], capture_output=True, text=True, timeout=300
    )
    assert ok.returncode == 0 and set(json.loads(ok.stdout)["checks"]) == {
        c.__name__ for c in CHECKS
    }
    bad = subprocess.run(
        [*script, str(tmp_path / "missing")], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1


def quoted_ignore_list(text: str) -> set[str]:
    """The failing codes a document quotes from repo-review's closing hint (`ignore = [...]`)."""
    match = re.search(r"ignore = \[([^\]]*)\]", text)
    assert match, "no quoted `ignore = [...]` list"
    return set(re.findall(r"RC\d{3}", match.group(1)))


def test_readme_and_slide_quote_the_codes_a_run_fails() -> None:
    done = cli(str(FIXTURES / "research_repo"), "--format", "json")
    codes = {c for c, r in json.loads(done.stdout)["checks"].items() if r["result"] is False}
    if not (WORKSHOP / "LICENSE").is_file():
        # Copied alone: no LICENSE or CITATION.cff above the fixture. The documents quote the run
        # inside the workshop repository, whose LICENSE and CITATION.cff cover the fixture.
        assert {"RC702", "RC703"} <= codes
        codes -= {"RC702", "RC703"}
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert quoted_ignore_list(readme) == codes
    assert f"{len(codes)} checks fail" in " ".join(readme.split())
    deck = WORKSHOP / "slides.md"
    if deck.is_file():  # the workshop's closing slide, where this folder sits in the workshop
        assert quoted_ignore_list(deck.read_text()) == codes
        assert f"{len(codes)} of {len(CHECKS)} checks fail" in deck.read_text()


def test_checklist_maps_every_check() -> None:
    text = (Path(__file__).parents[1] / "CHECKLIST.md").read_text()
    named = set(re.findall(r"RC\d{3}", text))
    for first, last in re.findall(r"RC(\d{3})–RC(\d{3})", text):
        named |= {f"RC{n}" for n in range(int(first), int(last) + 1)}
    assert named == {c.__name__ for c in CHECKS}
