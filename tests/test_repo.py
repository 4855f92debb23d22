"""Repository-wide checks: the skeleton, locks, clean notebooks, sizes, standalone projects,
one version of each shared library, no load-average gate, slides that render, and a valid CI
workflow.

Each check names the file or topic at fault, so a red line says what to fix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from checks import (
    check_cross_imports,
    check_exercises,
    check_file_sizes,
    check_locks,
    check_no_load_average,
    check_notebooks_stripped,
    check_plumbing,
    check_pre_commit_pins,
    check_receipt_fields_documented,
    check_receipt_size,
    check_receipts_identical,
    check_receipts_verified,
    check_shared_versions,
    check_skeleton,
    check_source_sizes,
)
from runner import discover_projects, discover_topics

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def assert_no_problems(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


def test_topic_skeleton(repo: Path) -> None:
    assert_no_problems(check_skeleton(repo))


def test_locks_are_fresh(repo: Path) -> None:
    assert_no_problems(check_locks(repo))


def test_notebooks_are_stripped(repo: Path) -> None:
    assert_no_problems(check_notebooks_stripped(repo))


def test_no_large_files(repo: Path) -> None:
    assert_no_problems(check_file_sizes(repo))


def test_topics_stand_alone(repo: Path) -> None:
    assert_no_problems(check_cross_imports(repo))


def test_shared_libraries_locked_at_one_version(repo: Path) -> None:
    assert_no_problems(check_shared_versions(repo))


def test_receipt_module_is_one_file_in_every_topic(repo: Path) -> None:
    assert_no_problems(check_receipts_identical(repo))


def test_receipt_py_stays_short_enough_to_read(repo: Path) -> None:
    assert_no_problems(check_receipt_size(repo))


def test_every_kind_of_receipt_has_a_verify_test(repo: Path) -> None:
    assert_no_problems(check_receipts_verified(repo))


def test_every_receipt_field_is_documented(repo: Path) -> None:
    assert_no_problems(check_receipt_fields_documented(repo))


def test_every_topic_has_checked_exercises(repo: Path) -> None:
    assert_no_problems(check_exercises(repo))


def test_no_test_reads_the_load_average(repo: Path) -> None:
    assert_no_problems(check_no_load_average(repo))


def test_one_command_edge_and_one_atomic_writer_per_topic(repo: Path) -> None:
    assert_no_problems(check_plumbing(repo))


def test_lesson_files_are_short_enough_to_read(repo: Path) -> None:
    assert_no_problems(check_source_sizes(repo))


def test_pre_commit_hooks_run_the_locked_version(repo: Path) -> None:
    assert_no_problems(check_pre_commit_pins(repo))


# The four terms of the day, credited to The Turing Way (its 2x2 of data and analysis). The
# opening deck, the overfitting deck and the root README must define them the same way.
TERMS = """| | same data | different data |
|---|---|---|
| **same analysis** | reproducible | replicable |
| **different analysis** | robust | generalisable |

Terms from The Turing Way; ACM's *repeatable* (same team, same setup) is a fifth, narrower word."""


def terms_table(text: str) -> str | None:
    """The block from the table's header line through the credit line, or None."""
    start = text.find("| | same data | different data |")
    end = text.find("narrower word.", start)
    return None if start < 0 or end < 0 else text[start : end + len("narrower word.")]


@pytest.mark.parametrize("doc", ["slides.md", "README.md", "overfitting/slides.md"])
def test_the_four_terms_are_defined_the_same_way(repo: Path, doc: str) -> None:
    text = (repo / doc).read_text()
    assert terms_table(text) == TERMS, f"{doc}: the terms table differs from the day's table"
    # No second, different definition of a term in the same file (the old decks had one).
    for term in ("robust", "replicable", "generalisable"):
        rows = [ln for ln in text.splitlines() if re.match(rf"\|\s*\**{term}\**\s*\|", ln)]
        assert not rows, f"{doc}: another definition of {term!r}: {rows}"


# The 09:00 talk the workshop's schedule names; its slides live on Zenodo, not here.
OPENING_TALK = "https://zenodo.org/records/17575944"


@pytest.mark.parametrize("doc", ["slides.md", "README.md", "docs/site/sessions/opening.md"])
def test_the_opening_talk_is_linked(repo: Path, doc: str) -> None:
    assert f"({OPENING_TALK})" in (repo / doc).read_text(), f"{doc}: no link to {OPENING_TALK}"


def test_readme_tells_learners_how_to_work(repo: Path) -> None:
    """The root README explains the exercises and the JupyterHub route; each topic names its kernel."""
    readme = (repo / "README.md").read_text()
    assert "## Exercises" in readme and "## On a JupyterHub" in readme
    for topic in discover_topics(repo):
        text = (repo / topic / "README.md").read_text()
        assert f"ipykernel install --user --name {topic}" in text, (
            f"{topic}/README.md: no kernel command"
        )


# --- slides ---------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~)")
SLIDE_BREAK = re.compile(r"^(---|\*\*\*|___)\s*$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)|<img[^>]+src=\"([^\"]+)\"")


def count_slides(markdown: str) -> int:
    """Slides in a Marp deck: breaks outside the front matter and code fences, plus one."""
    lines = markdown.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter, not a slide break
        start = next(i for i in range(1, len(lines)) if lines[i].strip() == "---") + 1
    breaks, in_fence = 0, False
    for line in lines[start:]:
        if FENCE.match(line.strip()):
            in_fence = not in_fence
        elif not in_fence and SLIDE_BREAK.match(line):
            breaks += 1
    return breaks + 1


def decks(repo: Path) -> list[Path]:
    found = [repo / "slides.md"] + [repo / t / "slides.md" for t in discover_topics(repo)]
    return [d for d in found if d.is_file()]


def test_slide_images_exist(repo: Path) -> None:
    """Marp silently renders a missing image as a broken box: catch it here instead."""
    missing = []
    for deck in decks(repo):
        for match in IMAGE.finditer(deck.read_text()):
            target = match.group(1) or match.group(2)
            if re.match(r"^(https?:|data:|#)", target):
                continue
            if not (deck.parent / target.split("#")[0]).is_file():
                missing.append(f"{deck.relative_to(repo)}: image {target} does not exist")
    assert_no_problems(missing)


def marp_and_chromium(repo: Path) -> tuple[Path, str]:
    marp = repo / "node_modules" / ".bin" / "marp"
    chromium = (
        os.environ.get("CHROME_PATH")
        or shutil.which("chromium")
        or shutil.which("google-chrome")
        or ""
    )
    missing = [
        what
        for what, ok in [("marp (run `npm ci`)", marp.exists()), ("chromium", bool(chromium))]
        if not ok
    ]
    if missing:
        if IN_CI:
            pytest.fail(f"slide rendering needs {', '.join(missing)}; .ci/run installs them")
        pytest.skip(f"slide rendering needs {', '.join(missing)}")
    return marp, chromium


def test_every_deck_renders_to_html_and_pdf(repo: Path, tmp_path: Path) -> None:
    """Each deck renders to HTML and to a PDF with one page per slide."""
    import pypdf

    marp, chromium = marp_and_chromium(repo)
    assert decks(repo), "no slides.md found"
    problems = []
    for deck in decks(repo):
        name = deck.parent.name if deck.parent != repo else "root"
        for fmt in ("html", "pdf"):
            out = tmp_path / f"{name}.{fmt}"
            run = subprocess.run(
                [str(marp), "--allow-local-files", str(deck), "-o", str(out)],
                capture_output=True,
                text=True,
                env={**os.environ, "CHROME_PATH": chromium},
                timeout=180,
            )
            if run.returncode != 0 or not out.is_file():
                problems.append(f"{deck.relative_to(repo)}: marp {fmt} failed: {run.stderr[-500:]}")
        pdf = tmp_path / f"{name}.pdf"
        if pdf.is_file():
            pages, slides = len(pypdf.PdfReader(pdf).pages), count_slides(deck.read_text())
            if pages != slides:
                problems.append(
                    f"{deck.relative_to(repo)}: PDF has {pages} pages for {slides} slides"
                )
    assert_no_problems(problems)


def test_slide_counting() -> None:
    deck = "---\nmarp: true\n---\n\n# A\n\n```\n---\n```\n\n---\n\n# B\n\n***\n\n# C\n"
    assert count_slides(deck) == 3


# --- CI -------------------------------------------------------------------------------------

WORKFLOW = Path(".github/workflows/ci.yml")
# The lesson website's workflow: builds, tests and deploys docs/ (GitHub Pages).
PAGES_WORKFLOW = Path(".github/workflows/pages.yml")
# Projects tested by the Pages workflow instead of the per-project matrices (they need Chromium,
# Marp and every topic's environment at once).
PAGES_PROJECTS = {"docs"}


@pytest.mark.parametrize("workflow", [WORKFLOW, PAGES_WORKFLOW], ids=lambda p: p.name)
def test_workflow_is_valid(repo: Path, workflow: Path) -> None:
    """Validated offline against the GitHub-workflow JSON schema that check-jsonschema ships."""
    run = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(repo / workflow)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def load_workflow(repo: Path, workflow: Path = WORKFLOW) -> dict:
    from ruamel.yaml import YAML  # installed with check-jsonschema

    return YAML(typ="safe").load((repo / workflow).read_text())


TOPIC_JOBS = ["topic", "topic-other-cpu", "topic-macos"]


def test_workflow_matrix_lists_every_project(repo: Path) -> None:
    """A project missing from a CI matrix would never be tested there."""
    jobs = load_workflow(repo)["jobs"]
    for name in TOPIC_JOBS:
        matrix = sorted(jobs[name]["strategy"]["matrix"]["topic"])
        assert matrix == [p for p in discover_projects(repo) if p not in PAGES_PROJECTS], name


def job_steps(job: dict) -> tuple[list[dict], str]:
    """(the `uses:` steps, all `run:` text) of a workflow job."""
    steps = job.get("steps", [])
    return [s for s in steps if "uses" in s], "\n".join(s.get("run", "") for s in steps)


def test_workflow_keeps_uv_cache_keyed_on_the_locks(repo: Path) -> None:
    """Every job that runs uv restores uv's cache keyed on uv.lock files, unpruned (pruning drops
    downloaded wheels such as torch), and a project job keys it on that project's lock."""
    jobs = {**load_workflow(repo)["jobs"]}
    if (repo / PAGES_WORKFLOW).is_file():
        pages = load_workflow(repo, PAGES_WORKFLOW)["jobs"]
        jobs.update({f"pages/{k}": v for k, v in pages.items()})
    for name, job in jobs.items():
        uses, runs = job_steps(job)
        if "uv " not in runs and "uvx " not in runs:
            continue
        setup = [s for s in uses if s["uses"].startswith("astral-sh/setup-uv@")]
        assert setup, f"job {name} runs uv without astral-sh/setup-uv"
        options = setup[0].get("with", {})
        assert options.get("enable-cache") is True, name
        assert options.get("prune-cache") is False, name
        globs = [g.strip() for g in str(options.get("cache-dependency-glob", "")).splitlines()]
        assert "uv.lock" in globs, name
        if name in TOPIC_JOBS:
            assert "${{ matrix.topic }}/uv.lock" in globs, name


def apt_packages(repo: Path) -> dict[str, str]:
    """package -> who needs it, from .ci/apt-packages.txt."""
    rows = [line.split("#")[0].split() for line in (repo / ".ci/apt-packages.txt").open()]
    return {row[0]: row[1] for row in rows if row}


def test_system_packages_are_installed_per_job(repo: Path) -> None:
    """Each job installs only what its tests need: Slurm and munge for scaling_multi_gpu alone,
    Chromium for the slides job alone; no job installs the whole list."""
    needs = apt_packages(repo)
    assert set(needs.values()) <= {"slides", *PAGES_PROJECTS, *discover_projects(repo)}, needs
    for package in [p for p in needs if "slurm" in p or p == "munge"]:
        assert needs[package] == "scaling_multi_gpu", package
    assert needs["chromium"] == "slides"
    for name, job in load_workflow(repo)["jobs"].items():
        _, runs = job_steps(job)
        for call in re.findall(r"\.ci/setup([^\n]*)", runs):
            assert call.split(), f"job {name} installs every system package (`.ci/setup`)"
            wanted = set(call.split())
            assert wanted <= {"slides", "${{", "matrix.topic", "}}"}, (name, call)
    slides = load_workflow(repo)["jobs"]["slides"]
    assert ".ci/setup slides" in job_steps(slides)[1]


def test_workflow_runs_other_cpu_and_macos(repo: Path) -> None:
    """The other-CPU matrix runs on the schedule and on demand, the macOS one on arm64 runners,
    and the gate waits for both."""
    workflow = load_workflow(repo)
    triggers = workflow.get("on") or workflow.get(True)  # YAML 1.1 reads `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    jobs = workflow["jobs"]
    other = jobs["topic-other-cpu"]
    assert "--other-cpu" in job_steps(other)[1]
    assert "schedule" in other["if"] and "workflow_dispatch" in other["if"]
    runner = jobs["topic-macos"]["runs-on"]
    assert re.fullmatch(r"macos-(1[4-9]|[2-9]\d)", runner), runner
    assert set(jobs["gate"]["needs"]) == set(jobs) - {"gate"}


def test_ci_runs_the_readme_test_command(repo: Path) -> None:
    """.ci/run must run exactly what the README tells people to run."""
    readme = (repo / "README.md").read_text()
    match = re.search(r"```(?:bash|sh)\n(.*?)```", readme, re.DOTALL)
    assert match, "README has no quick-start code block"
    commands = [c.split("#")[0].strip() for c in match.group(1).splitlines() if c.strip()]
    test_command = commands[-1]
    assert test_command == "uv run pytest"
    ci = (repo / ".ci" / "run").read_text().splitlines()
    assert test_command in [line.strip() for line in ci], f".ci/run never runs `{test_command}`"


def test_pages_workflow_tests_builds_and_deploys_the_site(repo: Path) -> None:
    """Pages: every push to main (and each pull request) runs the docs project's tests with
    Chromium, Marp and libatomic1 installed, builds the site and uploads it; only a push to main
    deploys it."""
    workflow = load_workflow(repo, PAGES_WORKFLOW)
    triggers = workflow.get("on") or workflow.get(True)
    assert triggers["push"]["branches"] == ["main"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    uses, runs = job_steps(build)
    assert ".ci/setup docs slides" in runs
    for project in PAGES_PROJECTS:
        assert f"tests/test_topics.py --topics={project}" in runs
    assert "site-build" in runs
    upload = [s for s in uses if s["uses"].startswith("actions/upload-pages-artifact@")]
    assert upload and upload[0]["with"]["path"] == "docs/_build/html"
    assert deploy["needs"] == "build" and "refs/heads/main" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    needs = apt_packages(repo)
    assert needs.get("libatomic1") == "docs", "Playwright's driver needs libatomic1 (docs)"
