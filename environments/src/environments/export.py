"""Export one lock to the formats other tools read: requirements.txt, pylock.toml, environment.yml.

`uv.lock` is the source of truth. `uv export` writes the pip formats; conda has no exporter in uv,
so environment.yml is written here from the same lock, with conda-forge names and the same versions.
Run `uv run env-export` after every `uv lock`, then `uv run env-sync-check` proves they agree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from environments.paths import EXAMPLE_PROJECT, UsageError

# PyPI and conda-forge usually share names; the exceptions an ML project meets most often.
# (None of them is in the example project; the table shows where a real project needs one.)
PYPI_TO_CONDA = {"torch": "pytorch", "tables": "pytables", "opencv-python": "opencv"}
CONDA_TO_PYPI = {conda: pypi for pypi, conda in PYPI_TO_CONDA.items()}

EXPORT_FLAGS = ["--frozen", "--no-dev", "--no-emit-project", "--offline", "--quiet"]


def read_lock(project: Path) -> dict:
    """Parse the project's uv.lock (TOML)."""
    lock = project / "uv.lock"
    if not lock.is_file():
        raise UsageError(f"no uv.lock in {project} (run `uv lock` there first)")
    return tomllib.loads(lock.read_text())


def project_name(project: Path) -> str:
    return tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]


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
            raise UsageError(
                f"uv.lock holds several versions of {p['name']} (a forked resolution); "
                "raise requires-python or pin it so one version serves every Python"
            )
        packages[p["name"]] = p
    return packages


def python_pin(project: Path) -> str:
    """The conda `python=` pin: the oldest Python requires-python allows (>=3.11 -> python=3.11),
    the same minor the container recipes' base images use."""
    spec = tomllib.loads((project / "pyproject.toml").read_text())["project"]["requires-python"]
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
        raise UsageError("uv not found on PATH (install it: https://docs.astral.sh/uv/)")
    return uv


def uv_export(project: Path, fmt: str) -> str:
    """The text `uv export --format <fmt>` writes for the project's lock (no dev tools, no project)."""
    cmd = [uv_binary(), "export", *EXPORT_FLAGS, "--format", fmt]
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=uv_env())
    if done.returncode != 0:
        # uv explains over several lines (with a caret diagram); keep its first two for one line.
        why = "; ".join([line.strip() for line in done.stderr.splitlines() if line.strip()][:2])
        raise UsageError(f"`uv export --format {fmt}` failed in {project}: {why}")
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


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=EXAMPLE_PROJECT, help="folder with uv.lock")
    args = parser.parse_args(argv)
    try:
        read_lock(args.project)  # no lock (or no folder): one error line before uv is called
        exports = expected_exports(args.project)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, text in exports.items():
        write_atomic(args.project / name, text)
        print(f"wrote {args.project / name} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
