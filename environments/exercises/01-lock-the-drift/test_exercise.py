"""Checker for exercise 01: on day 2 (tinystats 1.0.0 *and* 1.1.0 published), an install of
your project (pyproject.toml and uv.lock here) must still give tinystats 1.0.0 and the number the study reported.

Run from environments/:  uv run pytest exercises/01-lock-the-drift
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from environments.drift import DATA, PACKAGE, build_wheel

HERE = Path(__file__).parent
REPORTED = 2.0  # spread(data) in the study, computed with tinystats 1.0.0


def uv(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    """uv offline, with a private cache, outside the virtual env pytest runs in."""
    uv_path = shutil.which("uv")
    if uv_path is None:
        pytest.fail("uv is not on PATH: install it (https://docs.astral.sh/uv/)", pytrace=False)
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(cache))
    return subprocess.run([uv_path, *args], cwd=cwd, env=env, capture_output=True, text=True)


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def test_day_two_install_gives_the_reported_number(tmp_path):
    project = tmp_path / "analysis"  # your pyproject.toml (and uv.lock), on a clean "day 2"
    project.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        if (HERE / name).is_file():
            shutil.copy2(HERE / name, project / name)
    for release in ("1.0.0", "1.1.0"):  # day 2: the new release is on the "index" too
        build_wheel(release, project / "wheels")
    cache = tmp_path / "cache"

    locked = (project / "uv.lock").is_file()
    if locked:
        check = uv("lock", "--check", cwd=project, cache=cache)
        if check.returncode != 0:
            pytest.fail(
                f"uv.lock does not match pyproject.toml ({first_line(check.stderr)}): run "
                "`uv lock` in exercises/01-lock-the-drift/ after every change to pyproject.toml.",
                pytrace=False,
            )
    # With a lock: exactly what it says. Without one: a fresh resolve, as `pip install` does.
    sync = uv(
        "sync",
        *(["--locked"] if locked else []),
        "--python",
        sys.executable,
        cwd=project,
        cache=cache,
    )
    if sync.returncode != 0:
        pytest.fail(f"`uv sync` of your project failed: {first_line(sync.stderr)}", pytrace=False)

    python = project / ".venv" / "bin" / "python"
    code = f"import {PACKAGE} as t; print(t.__version__, t.spread({DATA}))"
    version, value = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True
    ).stdout.split()
    same = abs(float(value) - REPORTED) < 1e-9
    got = f"tinystats {version}, spread = {float(value):.3f}" + (
        "" if same else f", not the {REPORTED:.3f} reported"
    )
    if not locked:
        pytest.fail(
            f"there is no uv.lock: an install today resolves the requirement afresh and gets "
            f"{got}; nothing records what the study ran. Hint: publish day 1 only "
            "(`uv run python exercises/01-lock-the-drift/publish.py 1.0.0`), then run `uv lock` "
            "in exercises/01-lock-the-drift/.",
            pytrace=False,
        )
    if not same:
        pytest.fail(
            f"your lock installs {got}. The result came from 1.0.0: lock while only 1.0.0 is "
            "published (delete wheels/ here and publish 1.0.0 alone), or pin it.",
            pytrace=False,
        )
