"""Container recipes validated statically: they pass, and each broken rule is caught."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import EXAMPLE, TOPIC, copy_example, run_module
from environments.recipes import RECIPES, check_recipe


@pytest.mark.parametrize("name", RECIPES)
def test_committed_recipes_pass(name):
    assert check_recipe(EXAMPLE / name, EXAMPLE) == []


def test_cli_passes_on_committed_recipes():
    done = run_module("environments.recipes")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("ok ") == len(RECIPES)


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("Dockerfile", "COPY src ./src", "COPY scripts ./scripts", "copies 'scripts'"),
        (
            "apptainer-uv.def",
            "    src /opt/app/src",
            "    notebooks /opt/app/nb",
            "copies 'notebooks'",
        ),
        (
            "apptainer-conda.def",
            "environment.yml /opt",
            "environment.yaml /opt",
            "copies 'environment.yaml'",
        ),
        ("Dockerfile", "FROM python:3.11.11-slim-bookworm", "FROM python:latest", "not pinned"),
        ("apptainer-conda.def", "micromamba:2.0.5", "micromamba:latest", "not pinned"),
        ("Dockerfile", "python:3.11.11-slim", "python:3.10.16-slim", "does not satisfy"),
        ("apptainer-uv.def", "-python3.11-", "-python3.10-", "does not satisfy"),
        ("Dockerfile", "USER app", "USER root", "runs as root"),
        ("Dockerfile", "uv sync --locked --no-dev\n", "uv sync --no-dev\n", "--locked"),
        ("apptainer-uv.def", "UV_NO_CACHE=1 ", "", "cache"),
        ("apptainer-conda.def", "micromamba clean --all --yes", "true", "package cache"),
    ],
)
def test_broken_recipe_is_caught(tmp_path, name, old, new, expected):
    context = copy_example(tmp_path / "ctx")
    recipe = context / name
    assert old in recipe.read_text(), "the fixture edit did not apply"
    recipe.write_text(recipe.read_text().replace(old, new))
    problems = check_recipe(recipe, context)
    assert any(expected in p for p in problems), problems
    done = run_module("environments.recipes", str(recipe), "--context", str(context))
    assert done.returncode == 1 and "FAIL" in done.stdout


def test_missing_recipe_is_one_error_line(tmp_path):
    done = run_module("environments.recipes", str(tmp_path / "Dockerfile"))
    assert done.returncode == 2 and done.stderr.startswith("error: ")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("script", ["build_containers.sh", "slurm_apptainer.sh"])
def test_shell_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(TOPIC / "scripts" / script)]).returncode == 0
