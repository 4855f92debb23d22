"""Fixtures: what the checks read from a project, computed once per run.

repo-review passes `package` (the folder under review). Files are the ones git tracks or would
track (ignored files are not "in the repository"); outside a git checkout, every file except
virtual environments and caches. Anything that is not a local folder gives empty fixtures.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_DIRS |= {".mypy_cache", ".ipynb_checkpoints", ".tox", ".nox", "build", "dist", ".matrix"}
TEXT_SUFFIXES = {".py", ".ipynb", ".yaml", ".yml", ".toml", ".json", ".cfg", ".ini", ".md", ".txt"}
TEXT_SUFFIXES |= {".sh", ".sbatch", ".rst", ".cff"}
MAX_TEXT_BYTES = 2_000_000


def project_dir(package: Any) -> Path | None:
    """The folder under review as a local Path, or None (a GitHub path, or --list-all)."""
    try:
        path = Path(str(package))
    except TypeError:
        return None
    return path.resolve() if str(package) and path.is_dir() else None


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_root(package: Any) -> Path | None:
    """Top of the git checkout holding the project (the project itself, or a monorepo above it)."""
    folder = project_dir(package)
    out = _git(folder, "rev-parse", "--show-toplevel") if folder else None
    return Path(out.strip()).resolve() if out else None


def repo_files(package: Any, git_root: Path | None) -> list[str]:
    """Paths (relative, POSIX) of the project's files that are or would be committed."""
    folder = project_dir(package)
    if folder is None:
        return []
    if git_root is not None:
        out = _git(
            folder, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."
        )
        if out is not None:
            names = sorted({n for n in out.split("\0") if n})
            return [
                n for n in names if (folder / n).is_file() and not SKIP_DIRS & set(n.split("/"))
            ]
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.is_file() and not SKIP_DIRS & set(rel.parts):
            found.append(rel.as_posix())
    return sorted(found)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def notebooks(package: Any, repo_files: list[str]) -> dict[str, Any]:
    """Every notebook as parsed JSON (None when it cannot be read as a notebook)."""
    folder = project_dir(package)
    return {n: _read_json(folder / n) for n in repo_files if n.endswith(".ipynb")} if folder else {}


def notebook_code(nb: Any) -> str:
    """The code cells of a notebook, joined: what the notebook runs."""
    if not isinstance(nb, dict):
        return ""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]
    return "\n".join("".join(c.get("source", "")) for c in cells)


def texts(package: Any, repo_files: list[str], notebooks: dict[str, Any]) -> dict[str, str]:
    """Text of source, config and documentation files; notebooks contribute their code cells."""
    folder = project_dir(package)
    out: dict[str, str] = {}
    for name in repo_files if folder else []:
        path = folder / name
        if Path(name).suffix not in TEXT_SUFFIXES or path.stat().st_size > MAX_TEXT_BYTES:
            continue
        if name.endswith(".ipynb"):
            out[name] = notebook_code(notebooks.get(name))
        else:
            out[name] = path.read_text(encoding="utf-8", errors="replace")
    return out


def receipts(package: Any, repo_files: list[str]) -> dict[str, Any]:
    """Committed run receipts (`run.json`, `*.run.json`, `receipt*.json`) as parsed JSON."""
    folder = project_dir(package)
    names = [
        n
        for n in repo_files
        if (base := n.rsplit("/", 1)[-1]) == "run.json"
        or base.endswith(".run.json")
        or (base.startswith("receipt") and base.endswith(".json"))
    ]
    return {n: _read_json(folder / n) for n in names} if folder else {}
