"""Environments: every import is declared, checked with deptry against the project's own environment.

deptry maps an import (`sklearn`) to its package (`scikit-learn`) through installed metadata, so
it runs only where the project has a synced `.venv`; elsewhere the check is skipped.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from repro_check.checks_code import nested_projects
from repro_check.checks_env import FAMILY, Environments
from repro_check.fixtures import project_dir
from repro_check.lessons import problem

# DEP001: imported, not declared. DEP003: imported, only there because another package needs it.
UNDECLARED = {"DEP001", "DEP003"}
# A notebook's kernel (ipykernel) brings IPython: `from IPython.display import ...` is not a gap.
KERNEL_PROVIDED = {"IPython"}
RUN_DEPTRY = "import sys; sys.path.append(sys.argv.pop(1)); from deptry.cli import deptry; deptry()"


def site_packages(folder: Path) -> Path | None:
    """The project's own environment (`.venv`), where deptry reads which package provides a module."""
    found = sorted(folder.glob(".venv/lib/python3*/site-packages")) + sorted(
        folder.glob(".venv/Lib/site-packages")
    )
    return found[0] if found else None


def local_modules(repo_files: list[str]) -> set[str]:
    """Names the project itself provides: its packages and every module file it holds."""
    names = set()
    for name in repo_files:
        parts = Path(name).parts
        if name.endswith(".py"):
            names.add(Path(name).stem)
        if len(parts) >= 3 and parts[0] == "src":
            names.add(parts[1])
    return names


def not_scanned(repo_files: list[str]) -> list[str]:
    """Regexes for what is not the project's own code: tests, fixtures, and nested projects
    (a folder with its own pyproject.toml declares its own dependencies)."""
    patterns = [
        r"(.*/)?tests/",
        r"(.*/)?fixtures/",
        r"(.*/)?test_[^/]*\.py$",
        r"(.*/)?conftest\.py$",
    ]
    return patterns + [re.escape(d) for d in nested_projects(repo_files)]


def guarded_lines(source: str) -> set[int]:
    """Lines of imports inside a `try:` block: optional imports the code can run without."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


class RC105(Environments):
    "Every imported package is declared (deptry, in the project's own environment)"

    requires = {"RC103"}

    @staticmethod
    def check(package: Any, repo_files: list[str], texts: dict[str, str]) -> bool | str | None:
        folder = project_dir(package)
        env = site_packages(folder) if folder else None
        if env is None:
            return None  # no synced environment: deptry would guess package names and cry wolf
        cmd = [sys.executable, "-c", RUN_DEPTRY, str(env), ".", "--json-output"]
        for name in sorted(local_modules(repo_files)):
            cmd += ["--known-first-party", name]
        for pattern in not_scanned(repo_files):
            cmd += ["--extend-exclude", pattern]
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "deptry.json"
            cmd.insert(cmd.index("--json-output") + 1, str(report))
            subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=folder)
            if not report.is_file():
                return None  # deptry could not read this project's dependency declaration
            violations = json.loads(report.read_text())
        missing: dict[str, set[str]] = {}
        for v in violations:
            file, line = v["location"]["file"], v["location"].get("line")
            rel = (
                Path(file).resolve().relative_to(folder).as_posix()
                if Path(file).is_absolute()
                else Path(file).as_posix()
            )
            if v["module"] in KERNEL_PROVIDED:
                continue
            if v["error"]["code"] in UNDECLARED and line not in guarded_lines(texts.get(rel, "")):
                missing.setdefault(v["module"], set()).add(rel)
        if not missing:
            return True
        listed = "; ".join(
            f"`{m}` ({', '.join(sorted(f)[:3])})" for m, f in sorted(missing.items())
        )
        what = f"Imported but not declared (only present because another package pulls it in, or not at all): {listed}."
        why = "an undeclared package can vanish or change with any update of the package that brought it."
        return problem(what, why, FAMILY)
