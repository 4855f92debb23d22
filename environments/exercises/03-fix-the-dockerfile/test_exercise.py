"""Checker for exercise 03: the Dockerfile passes this topic's recipe check and hadolint, with
example_project/ as its build context.

Run from environments/:  uv run pytest exercises/03-fix-the-dockerfile
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from environments.plumbing import EXAMPLE_PROJECT
from environments.recipes import check_recipe

HERE = Path(__file__).parent


def test_recipe_check_passes():
    problems = check_recipe(HERE / "Dockerfile", EXAMPLE_PROJECT)
    if problems:
        pytest.fail(
            "env-check-recipes still finds:\n  - "
            + "\n  - ".join(problems)
            + "\nHint: the image must be built from example_project/uv.lock (copy it, install with "
            "`uv sync --locked`), on a base image whose tag names a Python the project allows.",
            pytrace=False,
        )


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed here (it is a dev dependency: run `uv sync`)")
    done = subprocess.run(
        [hadolint, "--no-color", str(HERE / "Dockerfile")], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"hadolint still warns:\n{done.stdout.strip()}", pytrace=False)
