"""Repository-wide checks. Each returns a list of problems (empty = fine), naming the file or topic.

They take the repository root as an argument so the runner's own tests can point them at
throwaway topics with a planted fault and see the fault reported by name. Generic checks (locks,
notebooks, sizes, stand-alone imports, shared versions, load average) cover every project; the
lesson checks (skeleton with slides, receipt, exercises) cover the lesson topics only.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import tomllib
from collections import Counter
from pathlib import Path

from runner import TOOL_PROJECTS, discover_projects, discover_topics

TOPIC_SKELETON = ["README.md", "pyproject.toml", "uv.lock", "slides.md", "tests"]
# A tool project (runner.TOOL_PROJECTS) is a uv project with tests, but no lesson.
PROJECT_SKELETON = ["README.md", "pyproject.toml", "uv.lock", "tests"]
MAX_FILE_BYTES = 2 * 1024 * 1024
# Libraries every topic must lock at the same version, so one download serves all topics.
SHARED_PACKAGES = [
    "torch",
    "lightning",
    "transformers",
    "mlflow",
    "deepspeed",
    "wandb",
    "safetensors",
    "huggingface-hub",
    "scikit-learn",
    "matplotlib",
]
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".matrix", "outputs", "_build"}


def repo_files(root: Path) -> list[Path]:
    """Files that are (or would be) committed: git's view in a checkout, else a walk."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if (root / ".git").exists():
            return [root / p for p in out.split("\0") if p and (root / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        files += [Path(dirpath) / f for f in filenames]
    return files


def check_skeleton(root: Path) -> list[str]:
    """Every topic has the parts a learner and the runner expect; a tool project, its own."""
    problems = []
    for project in discover_projects(root):
        tool = project in TOOL_PROJECTS
        for part in PROJECT_SKELETON if tool else TOPIC_SKELETON:
            if not (root / project / part).exists():
                problems.append(f"{project}: missing {part}")
        if not tool and not (root / project / "src" / project / "__init__.py").is_file():
            problems.append(
                f"{project}: missing src/{project}/__init__.py (the importable package)"
            )
    return problems


def check_locks(root: Path) -> list[str]:
    """`uv lock --check` for the root and every project: the lock matches pyproject.toml."""
    projects = [root] if (root / "pyproject.toml").is_file() else []
    projects += [root / t for t in discover_projects(root)]
    problems = []
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    for project in projects:
        name = project.name if project != root else "(root)"
        if not (project / "uv.lock").is_file():
            problems.append(f"{name}: no uv.lock")
            continue
        run = subprocess.run(
            ["uv", "lock", "--check", "--project", str(project)],
            capture_output=True,
            text=True,
            env=env,
        )
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["(no message)"])[-1]
            problems.append(f"{name}: uv.lock is stale ({last}); run `uv lock` there")
    return problems


def notebook_problems(path: Path) -> str | None:
    """Why a committed notebook is not clean, or None."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"not valid JSON ({exc})"
    dirty = [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("outputs") or cell.get("execution_count") is not None
    ]
    return f"cells {dirty} have outputs or execution counts" if dirty else None


def check_notebooks_stripped(root: Path) -> list[str]:
    """Notebooks are stored without outputs, except evidence kept under a fixtures/ folder."""
    problems = []
    for path in repo_files(root):
        if path.suffix != ".ipynb" or "fixtures" in path.relative_to(root).parts:
            continue
        if (why := notebook_problems(path)) is not None:
            problems.append(f"{path.relative_to(root)}: {why}")
    return problems


def check_file_sizes(root: Path) -> list[str]:
    """No file over 2 MiB: generate large things instead of committing them."""
    return [
        f"{p.relative_to(root)}: {p.stat().st_size / 2**20:.1f} MiB (limit 2 MiB)"
        for p in repo_files(root)
        if p.stat().st_size > MAX_FILE_BYTES
    ]


def python_sources(topic_dir: Path) -> list[tuple[Path, str]]:
    """(file, code) for every .py file and every notebook code cell in a topic."""
    sources = []
    for path in topic_dir.rglob("*"):
        if SKIP_DIRS.intersection(path.relative_to(topic_dir).parts) or not path.is_file():
            continue
        if path.suffix == ".py":
            sources.append((path, path.read_text(errors="replace")))
        elif path.suffix == ".ipynb":
            try:
                cells = json.loads(path.read_text()).get("cells", [])
            except ValueError:
                continue
            code = "\n".join(
                "".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", "")
                for c in cells
                if c.get("cell_type") == "code"
            )
            sources.append((path, code))
    return sources


def check_cross_imports(root: Path) -> list[str]:
    """A project never imports another project's package: each folder must stand alone."""
    topics = discover_projects(root)
    problems = []
    for topic in topics:
        others = [o for o in topics if o != topic]
        if not others:
            continue
        pattern = re.compile(rf"^\s*(?:from|import)\s+({'|'.join(others)})\b", re.MULTILINE)
        for path, code in python_sources(root / topic):
            for match in pattern.finditer(code):
                problems.append(
                    f"{path.relative_to(root)}: topic {topic} imports topic {match.group(1)}"
                )
    return problems


def locked_versions(lock_file: Path) -> dict[str, set[str]]:
    """Package name -> versions locked in a uv.lock (a fork by platform may give several)."""
    data = tomllib.loads(lock_file.read_text())
    versions: dict[str, set[str]] = {}
    for package in data.get("package", []):
        versions.setdefault(package["name"], set()).add(package.get("version", "?"))
    return versions


def shared_version_table(root: Path) -> dict[str, dict[str, str]]:
    """package -> project -> locked version(s), for the shared heavy packages a project uses."""
    table: dict[str, dict[str, str]] = {}
    for topic in discover_projects(root):
        lock = root / topic / "uv.lock"
        if not lock.is_file():
            continue
        locked = locked_versions(lock)
        for name in SHARED_PACKAGES:
            if name in locked:
                table.setdefault(name, {})[topic] = ",".join(sorted(locked[name]))
    return table


def check_shared_versions(root: Path) -> list[str]:
    """The shared heavy libraries are locked at one version across all topics."""
    problems = []
    for name, by_topic in shared_version_table(root).items():
        if len(set(by_topic.values())) > 1:
            detail = ", ".join(f"{t}={v}" for t, v in sorted(by_topic.items()))
            problems.append(f"{name} is locked at different versions: {detail}")
    return problems


def check_receipts_identical(root: Path) -> list[str]:
    """The receipt module is ONE file, byte-identical in every topic; name each copy that is not.

    The odd ones out are the copies that differ from the version most topics have.
    """
    copies = {t: root / t / "src" / t / "receipt.py" for t in discover_topics(root)}
    problems = [f"{t}: missing src/{t}/receipt.py" for t, p in copies.items() if not p.is_file()]
    digests = {
        t: hashlib.sha256(p.read_bytes()).hexdigest() for t, p in copies.items() if p.is_file()
    }
    if len(set(digests.values())) <= 1:
        return problems
    common = Counter(digests.values()).most_common(1)[0][0]
    reference = next(t for t, d in digests.items() if d == common)
    for topic, digest in sorted(digests.items()):
        if digest != common:
            problems.append(
                f"{topic}/src/{topic}/receipt.py differs from {reference}/src/{reference}/receipt.py"
                " (the receipt module must be byte-identical in every topic: copy one over the other)"
            )
    return problems


def receipt_fields(root: Path) -> list[str]:
    """The field names the receipt module promises (its RECEIPT_FIELDS and env FINGERPRINT)."""
    topic = next(
        t for t in discover_topics(root) if (root / t / "src" / t / "receipt.py").is_file()
    )
    tree = ast.parse((root / topic / "src" / topic / "receipt.py").read_text())
    names: list[str] = []
    for node in ast.walk(tree):  # `X = [...]` and `X += [...]` for the two lists and KERNEL_VARS
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id in {
            "RECEIPT_FIELDS",
            "FINGERPRINT",
            "KERNEL_VARS",
        }:
            value = node.value
            if isinstance(value, ast.List):
                names += [e.value for e in value.elts if isinstance(e, ast.Constant)]
    return names


def check_receipt_fields_documented(root: Path) -> list[str]:
    """Every receipt field and every `env` fingerprint field is explained in CONTRIBUTING.md."""
    doc = (root / "CONTRIBUTING.md").read_text() if (root / "CONTRIBUTING.md").is_file() else ""
    return [
        f"CONTRIBUTING.md does not document the receipt field `{name}`"
        for name in dict.fromkeys(receipt_fields(root))
        if f"`{name}`" not in doc
    ]


MIN_EXERCISES = 2


def check_exercises(root: Path) -> list[str]:
    """Every topic has exercises in the agreed layout, and tests that prove each checker works."""
    problems = []
    for topic in discover_topics(root):
        folders = sorted(p for p in (root / topic / "exercises").glob("[0-9][0-9]-*") if p.is_dir())
        if len(folders) < MIN_EXERCISES:
            problems.append(
                f"{topic}: {len(folders)} exercise(s) in exercises/, need {MIN_EXERCISES}"
            )
        for ex in folders:
            name = ex.relative_to(root)
            for part in ("README.md", "test_exercise.py", "solution"):
                if not (ex / part).exists():
                    problems.append(f"{name}: missing {part}")
            starters = [
                p
                for p in ex.iterdir()
                if p.is_file() and p.name not in {"README.md", "test_exercise.py"}
            ]
            if not starters:
                problems.append(f"{name}: no starter file for the learner to edit")
            solved = (
                {p.name for p in (ex / "solution").glob("*")}
                if (ex / "solution").is_dir()
                else set()
            )
            if starters and not solved & {p.name for p in starters}:
                problems.append(f"{name}: solution/ holds none of the starter files' names")
        if folders and not (root / topic / "tests" / "test_exercises.py").is_file():
            problems.append(
                f"{topic}: no tests/test_exercises.py proving each checker fails and passes"
            )
    return problems


# Reading the load average in a test or an exercise checker makes its verdict depend on what
# else the machine is doing: a gate on it is a wall-clock threshold in disguise.
LOAD_AVERAGE = re.compile(r"getloadavg|/proc/loadavg")


def check_no_load_average(root: Path) -> list[str]:
    """No file under a project's tests/ or exercises/ reads the load average."""
    problems = []
    for project in discover_projects(root):
        for folder in ("tests", "exercises"):
            base = root / project / folder
            for path in sorted(base.rglob("*")) if base.is_dir() else []:
                if path.is_dir() or SKIP_DIRS.intersection(path.relative_to(base).parts):
                    continue
                try:
                    text = path.read_text(errors="replace")
                except OSError:
                    continue
                for number, line in enumerate(text.splitlines(), 1):
                    if match := LOAD_AVERAGE.search(line):
                        problems.append(
                            f"{path.relative_to(root)}:{number}: reads the load average "
                            f"({match.group(0)}); print timings from a benchmark command instead"
                        )
    return problems
