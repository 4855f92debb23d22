"""Undeclared dependencies: "works on my machine" explained, and caught with deptry.

A script that imports a package the project never declared runs fine where that package happens
to be installed (your laptop, where you once installed matplotlib; or a package that arrived only
because scikit-learn needs it, like scipy). In an environment built from the project's own lock
it fails. deptry compares the imports in the code with the dependencies in pyproject.toml,
offline, and names each undeclared one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from environments.export import read_lock, read_pyproject
from environments.plumbing import (
    EXAMPLE_PROJECT,
    BadInput,
    OneLineParser,
    read_input,
    run_at_edge,
)

PLANTED_PATH = "src/digits_baseline/plot_confusion.py"
PLANTED_SCRIPT = '''\
"""Plot a confusion matrix. Its author never added its imports to pyproject.toml."""

import matplotlib  # installed on the author's machine for another project: never declared
import scipy.stats  # present only because scikit-learn depends on it: never declared

matplotlib.use("Agg")
print("plot_confusion: works on my machine, scipy", scipy.stats.__name__ and "ok")
'''


def copy_project(src: Path, dest: Path, locked: bool = True) -> Path:
    """Copy what defines the project (not its .venv) to `dest`, after reading what it declares:
    a corrupt pyproject.toml or uv.lock is refused here, before any step runs."""
    if not (src / "pyproject.toml").is_file() or not (src / "src").is_dir():
        raise BadInput(f"{src} is not a project (needs pyproject.toml and src/)")
    read_pyproject(src)
    if locked:
        read_lock(src)  # step 4 builds from it: a corrupt lock fails now, not skipped later
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
    shutil.copytree(src / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def plant_undeclared_import(project: Path) -> Path:
    path = project / PLANTED_PATH
    path.write_text(PLANTED_SCRIPT)
    return path


def run_deptry(project: Path) -> list[dict]:
    """deptry's findings for `project` (empty list = clean). Runs offline in this interpreter.

    deptry must run inside the project folder so it reads *that* pyproject.toml; it maps imports
    to distributions using the packages installed next to it (here: this topic's environment).
    """
    if not (project / "pyproject.toml").is_file():
        raise BadInput(f"{project} has no pyproject.toml")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "deptry.json"
        cmd = [sys.executable, "-m", "deptry", ".", "--no-ansi", "--json-output", str(report)]
        done = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
        if not report.is_file():
            # deptry ends a crash with a traceback; its last line says what went wrong.
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise BadInput(f"deptry failed in {project}: {why}")
        findings = read_input(report, json.loads, "deptry report (JSON)")
    return [
        {
            "code": f["error"]["code"],
            "module": f["module"],
            "where": f"{f['location']['file']}:{f['location']['line']}",
            "message": f["error"]["message"],
        }
        for f in findings
    ]


def undeclared_modules(findings: list[dict]) -> list[str]:
    """Modules imported but not declared: DEP001 (not installed) and DEP003 (installed by chance)."""
    return sorted({f["module"] for f in findings if f["code"] in {"DEP001", "DEP003"}})


def build_locked_env(project: Path) -> Path:
    """Build `project/.venv` with the dependencies in its uv.lock and nothing else, offline, from
    uv's cache; return its python. (The project itself is not installed: nothing here needs it.)

    `uv sync` of this topic fills the cache with the same wheels (numpy, scikit-learn, ...), and
    installing from a lock downloads by URL, so no index is needed. Raises BadInput naming uv's reason when a wheel is not cached.
    """
    uv = shutil.which("uv")
    if uv is None:
        raise BadInput("uv not found on PATH")
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    sync = [uv, "sync", "--locked", "--offline", "--no-dev", "--no-install-project", "--quiet"]
    done = subprocess.run(
        [*sync, "--python", sys.executable], cwd=project, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        why = next((line for line in done.stderr.splitlines() if line.strip()), "no message")
        raise BadInput(f"`uv sync --locked --offline` could not build it: {why.strip()}")
    return project / ".venv" / "bin" / "python"


def demo(source: Path, locked_env: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="undeclared-") as tmp:
        project = copy_project(source, Path(tmp), locked=locked_env)
        clean = run_deptry(project)
        print(f"1. deptry on the project as committed: {len(clean)} finding(s)")
        script = plant_undeclared_import(project)
        print(f"2. planted {PLANTED_PATH} (imports matplotlib and scipy.stats)")
        mine = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        print(f"3. on my machine (this environment): exit {mine.returncode}: {mine.stdout.strip()}")
        if locked_env:
            try:
                python = build_locked_env(project)
            except BadInput as exc:  # the lock is valid, but a wheel is missing from uv's cache
                print(f"4. locked environment: skipped: {exc}")
            else:
                locked = subprocess.run([str(python), str(script)], capture_output=True, text=True)
                last = (locked.stderr.strip().splitlines() or [""])[-1]
                print(f"4. in the environment built from uv.lock: exit {locked.returncode}: {last}")
        findings = run_deptry(project)
    print("5. deptry after planting:")
    for f in findings:
        print(f"   {f['code']} {f['module']:12} {f['where']}: {f['message']}")
    names = undeclared_modules(findings)
    print(
        f"=> undeclared: {', '.join(names) or 'none'}. Declare them (`uv add ...`) or remove the imports."
    )
    # The demo succeeds when the committed project is clean and the planted imports are caught.
    return 0 if names and not clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-undeclared", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=EXAMPLE_PROJECT, help="project to copy")
    parser.add_argument("--no-locked-env", action="store_true", help="skip the clean-env run")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: demo(args.project, not args.no_locked_env))


if __name__ == "__main__":
    sys.exit(main())
