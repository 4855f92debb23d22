"""Environments: a lockfile that is committed and current, dependencies declared with lower bounds.

These fail a project whose `pip install` next year would give other versions than today's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from repro_check.fixtures import project_dir
from repro_check.lessons import lesson_url, problem

FAMILY = "rc-environments"
LOCKFILES = ("uv.lock", "pixi.lock", "poetry.lock", "conda-lock.yml", "pylock.toml", "Pipfile.lock")
ENV_FILES = ("environment.yml", "environment.yaml")
LOWER_BOUND = {">=", "==", "~=", ">", "==="}


class Environments:
    family = FAMILY
    url = lesson_url(FAMILY)
    requires: set[str] = set()


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; an unreadable one reads as empty (its own tool reports the error)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def lockfiles(repo_files: list[str]) -> list[str]:
    """Lockfiles at the top of the project (a pylock may be named pylock.<name>.toml)."""
    return [n for n in repo_files if n in LOCKFILES or re.fullmatch(r"pylock\.[\w.-]+\.toml", n)]


class RC101(Environments):
    "A lockfile is committed (uv.lock, pixi.lock, poetry.lock, conda-lock.yml, pylock.toml)"

    @staticmethod
    def check(package: Any, repo_files: list[str]) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        if lockfiles(repo_files):
            return True
        on_disk = [n for n in LOCKFILES if (folder / n).is_file()]
        what = (
            f"{', '.join(on_disk)} exists but git ignores it, so it is not in the repository."
            if on_disk
            else "No lockfile (uv.lock, pixi.lock, poetry.lock, conda-lock.yml, pylock.toml)."
        )
        why = "without exact versions of every package, an install next year resolves other versions and the numbers drift."
        return problem(what, why, FAMILY)


def _static_lock_drift(folder: Path) -> list[str]:
    """Requirements in pyproject.toml that uv.lock does not record (used where uv is not installed)."""
    project = read_toml(folder / "pyproject.toml").get("project", {})
    lock = read_toml(folder / "uv.lock")
    me = next((p for p in lock.get("package", []) if p.get("name") == project.get("name")), None)
    recorded = (me or {}).get("metadata", {}).get("requires-dist", [])
    recorded_str = {str(Requirement(f"{r['name']}{r.get('specifier', '')}")) for r in recorded}
    want = {str(Requirement(r)) for r in project.get("dependencies", [])}
    return sorted(r for r in want if r.split(";")[0] not in {s.split(";")[0] for s in recorded_str})


class RC102(Environments):
    "The uv.lock matches its pyproject.toml (`uv lock --check`)"

    requires = {"RC101"}

    @staticmethod
    def check(package: Any, repo_files: list[str]) -> bool | str | None:
        folder = project_dir(package)
        if folder is None or "uv.lock" not in repo_files or "pyproject.toml" not in repo_files:
            return None  # other lockfiles are recognised, their freshness is their tool's job
        why = "a lock that no longer matches pyproject.toml installs something other than what the project declares."
        if shutil.which("uv") is None:
            missing = _static_lock_drift(folder)
            what = f"uv.lock does not record these requirements of pyproject.toml: {', '.join(missing)} (read without uv; install uv for `uv lock --check`)."
            return problem(what, why, FAMILY) if missing else True
        cmd = ["uv", "lock", "--check", "--offline", "--project", str(folder)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode == 0:
            return True
        tail = "\n".join(done.stderr.strip().splitlines()[-4:])
        return problem(
            f"`uv lock --check` fails: uv.lock is out of date.\n\n```\n{tail}\n```", why, FAMILY
        )


def declared_requirements(folder: Path, repo_files: list[str]) -> dict[str, list[str]]:
    """Declared requirement strings by source file: pyproject, requirements*.txt, environment.yml."""
    found: dict[str, list[str]] = {}
    if "pyproject.toml" in repo_files:
        data = read_toml(folder / "pyproject.toml")
        project = data.get("project", {})
        if "dependencies" in project or "optional-dependencies" in project:
            reqs = list(project.get("dependencies", []))
            reqs += [
                r for group in project.get("optional-dependencies", {}).values() for r in group
            ]
            found["pyproject.toml"] = reqs
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies")
        if poetry:
            found["pyproject.toml"] = [
                f"{k}{'' if v == '*' else '>=0'}" for k, v in poetry.items() if k != "python"
            ]
    for name in repo_files:
        if re.fullmatch(r"requirements[\w.-]*\.(txt|in)", name):
            lines = (folder / name).read_text().splitlines()
            found[name] = [
                ln.split("#")[0].strip()
                for ln in lines
                if ln.strip() and not ln.lstrip().startswith(("#", "-"))
            ]
        elif name in ENV_FILES:
            deps = read_yaml(folder / name).get("dependencies") or []
            pip = [r for d in deps if isinstance(d, dict) for r in d.get("pip", [])]
            found[name] = [_conda_to_pep508(d) for d in deps if isinstance(d, str)] + pip
    if "pixi.toml" in repo_files:
        deps = read_toml(folder / "pixi.toml").get("dependencies", {})
        found["pixi.toml"] = [f"{k}{'' if v == '*' else v}" for k, v in deps.items()]
    return found


def _conda_to_pep508(spec: str) -> str:
    """`numpy=1.26` (conda) reads as `numpy==1.26`; `numpy>=1.26` is already PEP 508;
    a channel prefix (`conda-forge::numpy`) is dropped."""
    spec = spec.split("::")[-1].strip()
    match = re.match(r"([\w.-]+)\s*(==|>=|<=|=|>|<|~=)?\s*(\S*)", spec)
    if match is None:
        return spec
    name, op, rest = match.groups()
    if op == "=":
        return f"{name}=={rest.split('=')[0]}"
    return f"{name}{op or ''}{rest}"


class RC103(Environments):
    "Dependencies are declared (pyproject.toml, requirements.txt, environment.yml or pixi.toml)"

    @staticmethod
    def check(package: Any, repo_files: list[str]) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        if declared_requirements(folder, repo_files):
            return True
        what = "No dependency list: no [project] dependencies in pyproject.toml, no requirements.txt, environment.yml or pixi.toml."
        why = "nobody, including you in a year, can rebuild the environment the results came from."
        return problem(what, why, FAMILY)


def unbounded(requirements: list[str]) -> list[str]:
    """Requirements that accept any version, however old (no lower bound, no pin, no URL)."""
    loose = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            loose.append(text)
            continue
        if req.name == "pip":
            continue  # the installer in an environment.yml, not a dependency of the code
        if req.url is None and not any(s.operator in LOWER_BOUND for s in req.specifier):
            loose.append(req.name)
    return loose


class RC104(Environments):
    "Every declared dependency has a lower bound (or a pin)"

    requires = {"RC103"}

    @staticmethod
    def check(package: Any, repo_files: list[str]) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        found = declared_requirements(folder, repo_files)
        loose = {src: bad for src, reqs in found.items() if (bad := unbounded(reqs))}
        if not loose:
            return True
        what = (
            "Dependencies without a lower bound: "
            + "; ".join(f"{s}: {', '.join(b)}" for s, b in loose.items())
            + "."
        )
        why = "`numpy` alone also allows a version from years ago whose behaviour (and your numbers) differ; `numpy>=1.26` says what you tested."
        return problem(what, why, FAMILY)
