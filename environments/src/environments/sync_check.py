"""Prove that the four declarations of one environment agree: pyproject.toml, uv.lock and its exports.

uv.lock is the truth. requirements.txt (pip), pylock.toml (PEP 751) and environment.yml (conda)
are copies for other tools, and a copy edited by hand drifts silently. This check names every
package whose version (or hash) in a copy differs from the lock; exit 1 when any does.
Requirement lines are parsed with `packaging` (pip's own parser), pylock.toml with
`packaging.pylock`, names compared with `packaging.utils.canonicalize_name`; whether the lock is stale is
asked of uv itself (`uv lock --check`), the one tool that knows how it recorded the requirements.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from environments.export import (
    CONDA_TO_PYPI,
    locked_packages,
    project_name,
    read_lock,
    uv_binary,
    uv_env,
)
from environments.plumbing import (
    EXAMPLE_PROJECT,
    BadInput,
    OneLineParser,
    read_input,
    run_at_edge,
)

Versions = dict[str, str]  # package name -> version
Hashes = dict[str, set[str]]  # package name -> {"sha256:..."}


def normalize(name: str) -> str:
    """PEP 503 name: `Scikit_Learn` and `scikit-learn` are the same package (pip's own rule)."""
    return canonicalize_name(name)


def lock_versions_and_hashes(project: Path) -> tuple[Versions, Hashes]:
    packages = locked_packages(read_lock(project), skip=project_name(project))
    versions = {normalize(n): p["version"] for n, p in packages.items()}
    hashes = {
        normalize(n): {f["hash"] for f in [p.get("sdist", {}), *p.get("wheels", [])] if "hash" in f}
        for n, p in packages.items()
    }
    return versions, hashes


def requirements_txt(path: Path) -> tuple[Versions, Hashes]:
    """Parse pip's `name[extras]==version ; marker --hash=...` entries with `packaging`.

    A regex over these lines is wrong as soon as a line has extras (`scikit-learn[install]==...`)
    or an unusual spacing; `packaging` is the parser pip itself uses.
    """
    text = re.sub(
        r"\\\n", " ", read_input(path, str, "requirements file")
    )  # join backslash continuations
    versions: Versions = {}
    hashes: Hashes = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()  # drop `# via ...` comments
        if not line or line.startswith(("#", "-")):
            continue  # comments and pip options (`-e`, `--index-url`)
        found = set(re.findall(r"--hash=(sha256:[0-9a-f]{64})", line))
        requirement = parse_requirement(line.split(" --", 1)[0], path.name)
        versions[normalize(requirement.name)] = pinned_version(requirement, path.name)
        hashes[normalize(requirement.name)] = found
    return versions, hashes


def parse_requirement(text: str, source: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise BadInput(f"{source}: cannot parse requirement {text!r}: {exc}") from None


def pinned_version(requirement: Requirement, source: str) -> str:
    """The version of an exact `==` pin; anything looser is not a copy of a lock."""
    pins = [s.version for s in requirement.specifier if s.operator in {"==", "==="}]
    if len(pins) != 1 or "*" in pins[0]:
        raise BadInput(f"{source}: {requirement} is not pinned to one version (`==`)")
    return pins[0]


def pylock_toml(path: Path) -> tuple[Versions, Hashes]:
    """Read PEP 751's pylock.toml with `packaging.pylock`, which validates it against the spec."""
    from packaging.pylock import Pylock, PylockValidationError

    try:
        lock = Pylock.from_dict(read_input(path, tomllib.loads, "pylock.toml (TOML)"))
    except PylockValidationError as exc:
        raise BadInput(f"{path} is not a valid pylock.toml: {exc}") from None
    versions = {normalize(p.name): str(p.version or "") for p in lock.packages}
    hashes = {
        normalize(p.name): {
            f"sha256:{f.hashes['sha256']}" for f in [p.sdist, *(p.wheels or [])] if f is not None
        }
        for p in lock.packages
    }
    return versions, hashes


def environment_yml(path: Path) -> Versions:
    """conda `name=version` (or `==`) entries, mapped back to PyPI names; python and pip skipped.

    Entries of a nested `pip:` list are PyPI requirements and are parsed as such.
    """
    spec = read_input(path, yaml.safe_load, "environment.yml (YAML)") or {}
    versions: Versions = {}
    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                requirement = parse_requirement(line, f"{path.name} (pip:)")
                versions[normalize(requirement.name)] = pinned_version(requirement, path.name)
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)\s*={1,2}\s*([^\s=]+)", dep)
        name = normalize(match[1] if match else dep.split()[0])
        if name in {"python", "pip"}:
            continue
        versions[normalize(CONDA_TO_PYPI.get(name, name))] = match[2] if match else "(unpinned)"
    return versions


def compare_versions(source: str, locked: Versions, found: Versions) -> list[str]:
    problems = []
    for name in sorted(locked.keys() | found.keys()):
        if name not in found:
            problems.append(f"{source}: {name} is missing (uv.lock has {name}=={locked[name]})")
        elif name not in locked:
            problems.append(f"{source}: {name}=={found[name]} is not in uv.lock")
        elif found[name] != locked[name]:
            problems.append(
                f"{source}: {name} is {found[name]} but uv.lock has {name}=={locked[name]}"
            )
    return problems


def compare_hashes(source: str, locked: Hashes, found: Hashes) -> list[str]:
    """A hash the lock does not know means a different file, even under the same version."""
    return [
        f"{source}: {name} has hashes that uv.lock does not list"
        for name in sorted(found.keys() & locked.keys())
        if not found[name] <= locked[name] or not found[name]
    ]


def lock_matches_pyproject(project: Path) -> list[str]:
    """Was uv.lock resolved from this pyproject.toml? That is exactly `uv lock --check`.

    uv rewrites requirements when it records them (`python_version >= '3.11'` becomes
    `python_full_version >= '3.11'`), so comparing the text ourselves gives false alarms: ask uv.
    Offline, it answers from the lock and its cache without contacting an index.
    """
    cmd = [uv_binary(), "lock", "--check", "--offline", "--quiet"]
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=uv_env())
    if done.returncode == 0:
        return []
    why = next((line.strip() for line in done.stderr.splitlines() if line.strip()), "no message")
    return [f"uv.lock: stale, `uv lock --check` says: {why} (run `uv lock`)"]


def check(project: Path = EXAMPLE_PROJECT) -> list[str]:
    """Every disagreement between uv.lock and the other declarations; empty when all agree."""
    for needed in (
        "pyproject.toml",
        "uv.lock",
        "requirements.txt",
        "pylock.toml",
        "environment.yml",
    ):
        if not (project / needed).is_file():
            raise BadInput(f"{project / needed} not found (run `uv run env-export`)")
    versions, hashes = lock_versions_and_hashes(project)
    problems = lock_matches_pyproject(project)
    try:
        req_v, req_h = requirements_txt(project / "requirements.txt")
        lock_v, lock_h = pylock_toml(project / "pylock.toml")
        yml_v = environment_yml(project / "environment.yml")
    except (KeyError, TypeError, AttributeError) as exc:  # parsed, but not the expected shape
        raise BadInput(f"an export in {project} is not in its format: {exc!r}") from None
    problems += compare_versions("requirements.txt", versions, req_v)
    problems += compare_hashes("requirements.txt", hashes, req_h)
    problems += compare_versions("pylock.toml", versions, lock_v)
    problems += compare_hashes("pylock.toml", hashes, lock_h)
    problems += compare_versions("environment.yml", versions, yml_v)
    return problems


def report(project: Path) -> int:
    problems = check(project)
    for problem in problems:
        print(f"OUT OF SYNC  {problem}")
    if problems:
        print(
            f"{len(problems)} problem(s): fix the lock, then `uv run env-export` (never edit exports by hand)"
        )
        return 1
    n = len(lock_versions_and_hashes(project)[0])
    print(f"in sync: uv.lock, requirements.txt, pylock.toml, environment.yml agree on {n} packages")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-sync-check", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=EXAMPLE_PROJECT, help="folder with uv.lock")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: report(args.project))


if __name__ == "__main__":
    sys.exit(main())
