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


RECEIPT_FILES = ["receipt.py", "receipt_tools.py"]
MAX_RECEIPT_LINES = 220  # receipt.py is what a learner reads; the tools can be longer


def check_receipts_identical(root: Path) -> list[str]:
    """The receipt module is ONE pair of files, byte-identical in every topic; name each odd copy.

    The odd ones out are the copies that differ from the version most topics have.
    """
    problems = []
    for name in RECEIPT_FILES:
        copies = {t: root / t / "src" / t / name for t in discover_topics(root)}
        problems += [f"{t}: missing src/{t}/{name}" for t, p in copies.items() if not p.is_file()]
        digests = {
            t: hashlib.sha256(p.read_bytes()).hexdigest() for t, p in copies.items() if p.is_file()
        }
        if len(set(digests.values())) <= 1:
            continue
        common = Counter(digests.values()).most_common(1)[0][0]
        reference = next(t for t, d in digests.items() if d == common)
        for topic, digest in sorted(digests.items()):
            if digest != common:
                problems.append(
                    f"{topic}/src/{topic}/{name} differs from {reference}/src/{reference}/{name}"
                    " (the receipt module must be byte-identical in every topic: copy one over the other)"
                )
    return problems


def check_receipt_size(root: Path) -> list[str]:
    """receipt.py, the file a learner reads, stays at most MAX_RECEIPT_LINES lines."""
    problems = []
    for topic in discover_topics(root):
        path = root / topic / "src" / topic / "receipt.py"
        lines = len(path.read_text().splitlines()) if path.is_file() else 0
        if lines > MAX_RECEIPT_LINES:
            problems.append(
                f"{topic}/src/{topic}/receipt.py has {lines} lines, more than {MAX_RECEIPT_LINES}:"
                " move reading and checking code to receipt_tools.py"
            )
    return problems


# `@pytest.mark.verifies("tracking-train")` on a test that runs `receipt verify` on that kind.
VERIFIES = re.compile(r"""pytest\.mark\.verifies\(\s*["']([^"']+)["']""")


def receipt_kinds(root: Path, topic: str) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """The kinds of receipt a topic declares ([tool.ml-repro.receipts] kinds in its pyproject),
    the commands it exempts (`exempt`: name -> why it writes none), and for each kind its tests
    marked @pytest.mark.verifies(kind)."""
    try:
        pyproject = tomllib.loads((root / topic / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return [], {}, {}
    table = pyproject.get("tool", {}).get("ml-repro", {}).get("receipts", {})
    marked: dict[str, list[str]] = {}
    for path in sorted((root / topic / "tests").rglob("*.py")):
        for kind in VERIFIES.findall(path.read_text(errors="replace")):
            marked.setdefault(kind, []).append(path.name)
    return list(table.get("kinds", [])), dict(table.get("exempt", {})), marked


def check_receipts_verified(root: Path) -> list[str]:
    """Each kind of receipt a topic writes has a test that `verify` re-runs it (or refuses it).

    A kind is a command (`tracking-train`, `torchrun -m scaling_multi_gpu.train`, `papermill`);
    a [project.scripts] command whose module calls write_run_json must be one of them.
    """
    problems = []
    for topic in discover_topics(root):
        kinds, exempt, marked = receipt_kinds(root, topic)
        for kind in kinds:
            if kind not in marked:
                problems.append(
                    f"{topic}: no test marked @pytest.mark.verifies({kind!r}) runs `receipt"
                    f" verify` on a {kind} receipt"
                )
        for kind, files in sorted(marked.items()):
            if kind not in kinds:
                problems.append(
                    f"{topic}: {', '.join(files)} verifies {kind!r}, which is not in"
                    " [tool.ml-repro.receipts] kinds of its pyproject.toml"
                )
        try:
            scripts = tomllib.loads((root / topic / "pyproject.toml").read_text())["project"]
            scripts = scripts.get("scripts", {})
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            scripts = {}
        for name, target in sorted(scripts.items()):
            module = root / topic / "src" / Path(*target.split(":")[0].split("."))
            source = module.with_suffix(".py")
            writes = source.is_file() and "write_run_json(" in source.read_text()
            if writes and name not in kinds and name not in exempt:
                problems.append(
                    f"{topic}: {name} writes run.json but is not in [tool.ml-repro.receipts] kinds"
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


# deptry finds imports that the project does not declare (they work here only because another
# package pulled them in). The receipt module is skipped: it is the same file in every topic and
# imports torch, numpy and safetensors only where a topic has them (guarded by try/except).
# DEP002 (declared but not imported) is left out: tools such as nbstripout are used, not imported.
DEPTRY_ARGS = ["--no-ansi", "--ignore", "DEP002", "--extend-exclude", r".*receipt(_tools)?\.py"]


def check_declared_imports(
    project_dir: Path, deptry: list[str], site_packages: str | None = None
) -> list[str]:
    """deptry's findings for `src/` of one project, each as `file:line: CODE message`.

    `deptry` is the command that starts it (the environments topic locks it); `site_packages` is
    the project's own, so deptry maps each import to the package that provides it *there*.
    """
    package = project_dir.name
    report = project_dir / ".deptry.json"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    if site_packages:
        env["PYTHONPATH"] = site_packages
    cmd = [*deptry, "src", "--known-first-party", package, *DEPTRY_ARGS, "--json-output", report]
    try:
        done = subprocess.run(
            [str(c) for c in cmd], cwd=project_dir, env=env, capture_output=True, text=True
        )
        if not report.is_file():
            return [f"{package}: deptry did not run: {done.stderr.strip()[-400:]}"]
        findings = json.loads(report.read_text())
    finally:
        report.unlink(missing_ok=True)
    return [
        f"{package}/{f['location']['file']}:{f['location']['line']}: "
        f"{f['error']['code']} {f['error']['message']}"
        for f in findings
    ]


PRE_COMMIT_REPO = re.compile(r"-\s*repo:\s*\S*/([\w.-]+?)(?:\.git)?\s*\n\s*rev:\s*v?([\w.]+)")


def check_pre_commit_pins(root: Path) -> list[str]:
    """A pre-commit hook that is also a locked package (nbstripout) runs the locked version:
    one tool, one version, wherever a learner meets it."""
    locked: dict[str, set[str]] = {}
    for project in discover_projects(root):
        for name, versions in locked_versions(root / project / "uv.lock").items():
            locked.setdefault(name, set()).update(versions)
    problems = []
    for config in sorted(p for p in repo_files(root) if p.name == ".pre-commit-config.yaml"):
        for name, rev in PRE_COMMIT_REPO.findall(config.read_text()):
            versions = locked.get(name.lower())
            if versions and rev not in versions:
                problems.append(
                    f"{config.relative_to(root)}: {name} rev {rev}, but the locks hold "
                    f"{', '.join(sorted(versions))}"
                )
    return problems


# A lesson file a learner can hold in their head: the receipt's reading half (compare, verify,
# validate) is the one file allowed past it; any other exception is listed here with its reason.
MAX_SOURCE_LINES = 320
LONG_SOURCES_ALLOWED = {"receipt_tools.py": "the receipt's reading half, identical in every topic"}


def check_source_sizes(root: Path) -> list[str]:
    """No file under a project's src/ is over MAX_SOURCE_LINES lines, except those allowed."""
    problems = []
    for project in discover_projects(root):
        for path in sorted((root / project / "src").rglob("*.py")):
            if SKIP_DIRS.intersection(path.parts) or path.name in LONG_SOURCES_ALLOWED:
                continue
            lines = len(path.read_text(errors="replace").splitlines())
            if lines > MAX_SOURCE_LINES:
                problems.append(
                    f"{path.relative_to(root)}: {lines} lines (limit {MAX_SOURCE_LINES}): split it"
                    " by idea, or add it to LONG_SOURCES_ALLOWED with the reason"
                )
    return problems


# One edge per topic, named the same everywhere: a learner who read one topic's plumbing.py
# knows every topic's. And one atomic writer, the receipt's: no topic renames files itself.
PLUMBING_NAMES = ["BadInput", "OneLineParser", "run_at_edge", "finite_float", "check_out"]


def check_plumbing(root: Path) -> list[str]:
    """Each topic's src/<topic>/plumbing.py defines PLUMBING_NAMES; only the receipt renames."""
    problems = []
    for topic in discover_topics(root):
        plumbing = root / topic / "src" / topic / "plumbing.py"
        if not plumbing.is_file():
            problems.append(f"{topic}: no src/{topic}/plumbing.py (the command edge)")
            continue
        tree = ast.parse(plumbing.read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for name in PLUMBING_NAMES:
            if name not in defined:
                problems.append(f"{topic}/src/{topic}/plumbing.py: no `{name}`")
        for path, text in python_sources(root / topic):
            in_src = path.relative_to(root / topic).parts[0] == "src"
            if path.name in {"receipt.py", "receipt_tools.py"} or not in_src:
                continue
            if "os.replace(" in text or ".replace(tmp" in text:
                problems.append(
                    f"{path.relative_to(root)}: renames a temporary file itself; use the"
                    " receipt's atomic_write"
                )
    return problems
