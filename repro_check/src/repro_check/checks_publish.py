"""Publishing: a README with results and the commands behind them, a licence, a citation, tested code.

For a project that is a folder inside a larger repository (a monorepo), LICENSE, CITATION.cff and
CI are looked for in the folder first, then in each folder above it up to the top of the git
checkout: a licence or a workflow at the top covers every folder below.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from repro_check.fixtures import project_dir
from repro_check.lessons import lesson_url, problem

FAMILY = "rc-publishing"
TABLE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*\|", re.M)
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "shell", "console", "zsh", "powershell", ""}
NUMBER_ROW = re.compile(r"^.*\S(  +|\s\|\s).*\d(\.\d|/\d).*$", re.M)
COMMAND = re.compile(
    r"^\s*(\$\s*)?(uv run|uvx|python3?|pixi run|make|snakemake|bash|sbatch|srun|torchrun|dvc repro|[\w-]+ --)",
    re.M,
)
CI_FILES = (
    ".github/workflows",
    ".gitlab-ci.yml",
    ".circleci/config.yml",
    "azure-pipelines.yml",
    ".travis.yml",
    "Jenkinsfile",
)
TEST_RUNNERS = re.compile(r"pytest|unittest|\bnox\b|\btox\b|make test|\.ci/run")


class Publishing:
    family = FAMILY
    url = lesson_url(FAMILY)
    requires: set[str] = set()


def upward(folder: Path, git_root: Path | None) -> list[Path]:
    """The folder, then each folder above it up to the git checkout's top (only the folder outside git)."""
    if git_root is None or not folder.is_relative_to(git_root):
        return [folder]
    return [folder, *[p for p in folder.parents if p.is_relative_to(git_root)]]


def find_up(folder: Path, git_root: Path | None, pattern: str) -> Path | None:
    for place in upward(folder, git_root):
        hits = sorted(p for p in place.glob(pattern) if p.is_file())
        if hits:
            return hits[0]
    return None


def scope(folder: Path, git_root: Path | None) -> str:
    return (
        "in this folder or above it up to the git root"
        if len(upward(folder, git_root)) > 1
        else "in this folder"
    )


class RC701(Publishing):
    "The README has a results table and the exact commands that produce it"

    @staticmethod
    def check(package: Any, texts: dict[str, str]) -> bool | str | None:
        if project_dir(package) is None:
            return None
        readme = next(
            (texts[n] for n in ("README.md", "README.rst", "README.txt", "README") if n in texts),
            None,
        )
        if readme is None:
            return problem(
                "No README.",
                "a repository without a README tells nobody what it shows or how to run it.",
                FAMILY,
            )
        blocks = FENCE.findall(readme)
        has_command = any(COMMAND.search(body) for lang, body in blocks if lang in SHELL)
        # A Markdown table, or a printed one: an output block with two or more rows of numbers.
        printed = [
            b
            for lang, b in blocks
            if lang in {"", "text", "console"} and len(NUMBER_ROW.findall(b)) >= 2
        ]
        has_table = bool(TABLE.search(readme) or printed)
        if has_table and has_command:
            return True
        gaps = [
            g
            for g, ok in (
                ("a results table", has_table),
                ("a code block with the command that produces it", has_command),
            )
            if not ok
        ]
        what = f"The README lacks {' and '.join(gaps)}."
        why = "a reader must be able to type your command and get your table (the Papers-with-Code checklist's last item)."
        return problem(what, why, FAMILY)


class RC702(Publishing):
    "A LICENSE file exists (this folder, or above it up to the git root)"

    @staticmethod
    def check(package: Any, git_root: Path | None) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        for pattern in ("LICENSE*", "LICENCE*", "COPYING*"):
            if find_up(folder, git_root, pattern):
                return True
        what = f"No LICENSE file {scope(folder, git_root)}."
        why = "without a licence, nobody may legally reuse, change or redistribute your code, however public it is."
        return problem(what, why, FAMILY)


def citation_problems(path: Path) -> list[str]:
    """What makes a CITATION.cff invalid: the fields CFF 1.2.0 requires, and their types."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return [f"not YAML ({str(exc).splitlines()[0]})"]
    if not isinstance(data, dict):
        return ["not a mapping of fields"]
    problems = [
        f"no `{k}`" for k in ("cff-version", "message", "title", "authors") if not data.get(k)
    ]
    authors = data.get("authors") or []
    if authors and (
        not isinstance(authors, list)
        or not all(
            isinstance(a, dict) and (a.get("family-names") or a.get("name")) for a in authors
        )
    ):
        problems.append("each author needs `family-names` or `name`")
    if data.get("cff-version") and not re.fullmatch(r"1\.\d+\.\d+", str(data["cff-version"])):
        problems.append(f"cff-version {data['cff-version']!r} is not 1.x.y")
    return problems


class RC703(Publishing):
    "A valid CITATION.cff exists (this folder, or above it up to the git root)"

    @staticmethod
    def check(package: Any, git_root: Path | None) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        why = "a CITATION.cff gives GitHub's 'Cite this repository' and Zenodo the exact reference to use."
        path = find_up(folder, git_root, "CITATION.cff")
        if path is None:
            return problem(f"No CITATION.cff {scope(folder, git_root)}.", why, FAMILY)
        problems = citation_problems(path)
        return (
            problem(f"{path.name} is not valid: {'; '.join(problems)}.", why, FAMILY)
            if problems
            else True
        )


class RC704(Publishing):
    "Tests exist (test_*.py or *_test.py)"

    @staticmethod
    def check(package: Any, repo_files: list[str]) -> bool | str | None:
        if project_dir(package) is None:
            return None
        if any(
            re.fullmatch(r"test_\w+\.py|\w+_test\.py", n.rsplit("/", 1)[-1]) for n in repo_files
        ):
            return True
        what = "No tests (no test_*.py or *_test.py file)."
        why = "a test that reruns a small version of your pipeline is what notices when a result stops reproducing."
        return problem(what, why, FAMILY)


class RC705(Publishing):
    "CI runs the tests (GitHub Actions, GitLab CI, ...; a workflow at the git root must name this folder)"

    requires = {"RC704"}

    @staticmethod
    def check(package: Any, git_root: Path | None) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        for place in upward(folder, git_root):
            files = [
                f
                for name in CI_FILES
                for f in (
                    [place / name]
                    if (place / name).is_file()
                    else sorted((place / name).glob("*.y*ml"))
                )
            ]
            texts = [f.read_text(errors="replace") for f in files]
            # A workflow above the folder covers it only if it mentions the folder (a monorepo matrix).
            runs = [
                t for t in texts if TEST_RUNNERS.search(t) and (place == folder or folder.name in t)
            ]
            if runs:
                return True
        what = f"No CI configuration {scope(folder, git_root)} that runs the tests of this folder."
        why = "tests nobody runs stop passing unnoticed; CI runs them on every change, on a clean machine."
        return problem(what, why, FAMILY)
