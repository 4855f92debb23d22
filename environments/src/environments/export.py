"""Export one lock to the formats other tools read: requirements.txt, pylock.toml, environment.yml.

`uv.lock` is the source of truth. `uv export` writes the pip formats; conda has no exporter in uv,
so environment.yml is written here from the same lock, with conda-forge names and the same versions.
Run `uv run env-export` after every `uv lock`, then `uv run env-sync-check` proves they agree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from environments.plumbing import (
    EXAMPLE_PROJECT,
    BadInput,
    OneLineParser,
    check_out,
    read_input,
    run_at_edge,
)
from environments.receipt import atomic_write

# PyPI and conda-forge usually share names; the exceptions an ML project meets most often.
# (None of them is in the example project; the table shows where a real project needs one.)
PYPI_TO_CONDA = {"torch": "pytorch", "tables": "pytables", "opencv-python": "opencv"}
CONDA_TO_PYPI = {conda: pypi for pypi, conda in PYPI_TO_CONDA.items()}

EXPORT_FLAGS = ["--frozen", "--no-dev", "--no-emit-project", "--offline", "--quiet"]


def read_lock(project: Path) -> dict:
    """Parse the project's uv.lock (TOML); a random or truncated file is one BadInput."""
    lock = project / "uv.lock"
    if not lock.is_file():
        raise BadInput(f"no uv.lock in {project} (run `uv lock` there first)")
    parsed = read_input(lock, tomllib.loads, "uv.lock (TOML)")
    packages = parsed.get("package")
    if not isinstance(packages, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) for p in packages
    ):
        raise BadInput(f"{lock} is not a uv lock: no [[package]] tables with a name")
    return parsed


def read_pyproject(project: Path) -> dict:
    """The [project] table of pyproject.toml, with the keys the commands use checked."""
    table = read_input(project / "pyproject.toml", tomllib.loads, "pyproject.toml (TOML)")
    meta = table.get("project")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise BadInput(f"{project / 'pyproject.toml'} has no [project] table with a name")
    return meta


def project_name(project: Path) -> str:
    return read_pyproject(project)["name"]


def locked_packages(lock: dict, skip: str | None = None) -> dict[str, dict]:
    """name -> [[package]] table of the lock, without the project itself (it is not a dependency).

    A lock whose resolution forked (two versions of one package, e.g. when a new release drops
    the oldest Python that requires-python allows) has no single version to export to conda.
    """
    packages: dict[str, dict] = {}
    for p in lock["package"]:
        if p["name"] == skip or "version" not in p:
            continue
        if p["name"] in packages:
            raise BadInput(
                f"uv.lock holds several versions of {p['name']} (a forked resolution); "
                "raise requires-python or pin it so one version serves every Python"
            )
        packages[p["name"]] = p
    return packages


def python_pin(project: Path) -> str:
    """The conda `python=` pin: the oldest Python requires-python allows (>=3.11 -> python=3.11),
    the same minor the container recipes' base images use."""
    spec = read_pyproject(project).get("requires-python")
    if not isinstance(spec, str):
        raise BadInput(f"{project / 'pyproject.toml'} has no requires-python")
    version = spec.lstrip("=<>~! ").split(",")[0].removesuffix(".*")
    return f"python={version}"


def environment_yml_text(project: Path) -> str:
    """environment.yml for conda-forge pinning every package of uv.lock to the locked version."""
    name = project_name(project)
    packages = locked_packages(read_lock(project), skip=name)
    lines = [
        "# Generated from uv.lock by `uv run env-export` (environments/): do not edit by hand.",
        "# Every package pinned to the version in uv.lock, under its conda-forge name.",
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        f"  - {python_pin(project)}",
        "  - pip",
    ]
    for pypi_name in sorted(packages):
        conda_name = PYPI_TO_CONDA.get(pypi_name, pypi_name)
        lines.append(f"  - {conda_name}={packages[pypi_name]['version']}")
    return "\n".join(lines) + "\n"


def uv_binary() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise BadInput("uv not found on PATH (install it: https://docs.astral.sh/uv/)")
    return uv


def uv_export(project: Path, fmt: str) -> str:
    """The text `uv export --format <fmt>` writes for the project's lock (no dev tools, no project)."""
    cmd = [uv_binary(), "export", *EXPORT_FLAGS, "--format", fmt]
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=uv_env())
    if done.returncode != 0:
        # uv explains over several lines (with a caret diagram); keep its first two for one line.
        why = "; ".join([line.strip() for line in done.stderr.splitlines() if line.strip()][:2])
        raise BadInput(f"`uv export --format {fmt}` failed in {project}: {why}")
    return done.stdout


def uv_env() -> dict[str, str]:
    """Environment for uv acting on another project: forget the virtual env we run in."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def expected_exports(project: Path) -> dict[str, str]:
    """File name -> the content it should have, all derived from uv.lock."""
    return {
        "requirements.txt": uv_export(project, "requirements.txt"),
        "pylock.toml": uv_export(project, "pylock.toml"),
        "environment.yml": environment_yml_text(project),
    }


def export(project: Path) -> int:
    read_lock(project)  # no lock (or a corrupt one): one error line before uv is called
    exports = expected_exports(project)
    for name in exports:  # all three writable before the first is replaced
        check_out(project / name, folder=False)
    for name, text in exports.items():
        atomic_write(project / name, text)
        print(f"wrote {project / name} ({len(text.splitlines())} lines)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-export", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=EXAMPLE_PROJECT, help="folder with uv.lock")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: export(args.project))


if __name__ == "__main__":
    sys.exit(main())
