"""The cluster job script, run against a stand-in `apptainer` that records what it was asked to
do: caches off home, scratch and project folders bound, --nv or --rocm; and the cluster page's
commands name files that exist."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import TOPIC

SLURM = TOPIC / "scripts" / "slurm_apptainer.sh"
CLUSTER_PAGE = TOPIC / "scripts" / "README.md"
bash = shutil.which("bash")
pytestmark = pytest.mark.skipif(bash is None, reason="needs bash")

# Records each call's arguments and the Apptainer variables it saw, one JSON line per call.
FAKE_APPTAINER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    env = {k: os.environ.get(k) for k in ("APPTAINER_CACHEDIR", "APPTAINER_TMPDIR")}
    log.write(json.dumps({"argv": sys.argv[1:], "env": env}) + "\\n")
"""


def run_job(tmp_path: Path, script: Path, *args: str) -> tuple[subprocess.CompletedProcess, list]:
    """Run the job script as sbatch would start it, on a pretend cluster under tmp_path."""
    fake_bin, home = tmp_path / "bin", tmp_path / "home"
    for folder in (fake_bin, home, tmp_path / "scratch", tmp_path / "projappl"):
        folder.mkdir(exist_ok=True)
    (fake_bin / "apptainer").write_text(FAKE_APPTAINER)
    (fake_bin / "apptainer").chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPTAINER_", "SLURM_"))}
    env |= {
        "PATH": f"{fake_bin}{os.pathsep}{env['PATH']}",
        "HOME": str(home),
        "USER": "learner",
        "SLURM_JOB_ACCOUNT": "project_2001234",
        "SLURM_CPUS_PER_TASK": "4",
        "SCRATCH_DIR": str(tmp_path / "scratch"),
        "PROJECT_DIR": str(tmp_path / "projappl"),
        "FAKE_LOG": str(log),
    }
    done = subprocess.run(
        [bash, str(script), "image.sif", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def job_problems(tmp_path: Path, script: Path) -> list[str]:
    """What the job script must do on a cluster, judged from the calls it makes."""
    problems = []
    scratch, projappl = str(tmp_path / "scratch"), str(tmp_path / "projappl")
    for gpu, flag, other in (("nvidia", "--nv", "--rocm"), ("amd", "--rocm", "--nv")):
        done, calls = run_job(tmp_path, script, gpu)
        if done.returncode != 0 or len(calls) != 2:
            return [f"{gpu}: exit {done.returncode}, {len(calls)} apptainer calls: {done.stderr}"]
        for call in calls:
            argv, env = call["argv"], call["env"]
            if flag not in argv or other in argv:
                problems.append(f"{gpu}: {argv[0]} without {flag} (or with {other})")
            binds = {argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "--bind"}
            if not {scratch, projappl} <= binds:
                problems.append(f"{gpu}: {argv[0]} binds {sorted(binds)}, not scratch and project")
            for name, value in env.items():
                if not value or not value.startswith(scratch):
                    problems.append(f"{name}={value}: not under scratch (home is small)")
    return problems


def test_job_script_runs_as_a_cluster_job_should(tmp_path):
    assert job_problems(tmp_path, SLURM) == []


def test_job_script_sets_up_the_cache_under_scratch(tmp_path):
    run_job(tmp_path, SLURM)
    assert (tmp_path / "scratch" / "learner" / "apptainer" / "cache").is_dir()
    assert not any((tmp_path / "home").iterdir()), "the job wrote into home"


def test_job_script_refuses_an_unknown_gpu_in_one_line(tmp_path):
    done, calls = run_job(tmp_path, SLURM, "intel")
    assert done.returncode == 2 and calls == []
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("export APPTAINER_CACHEDIR=", "APPTAINER_CACHEDIR=", "APPTAINER_CACHEDIR=None"),
        (r'(export APPTAINER_TMPDIR=)"[^"]*"', r'\1"${APPTAINER_TMPDIR:-$HOME/tmp}"', "TMPDIR"),
        (r"amd\) flags\+=\(--rocm\) ;;", "amd) flags+=(--nv) ;;", "amd: run without --rocm"),
        (r'for dir in "\$scratch" "\$project_dir"', 'for dir in "$scratch"', "not scratch and"),
    ],
)
def test_a_broken_job_script_is_caught(tmp_path, old, new, expected):
    text = SLURM.read_text()
    broken = tmp_path / "broken.sh"
    broken.write_text(re.sub(old, new, text, count=1))
    assert broken.read_text() != text, "the fixture edit did not apply"
    problems = job_problems(tmp_path, broken)
    assert any(expected in p for p in problems), problems


def page_problems(page: str) -> list[str]:
    """The cluster page's commands: the files they name exist, and each route is shown."""
    problems = [
        f"names {path}, which does not exist"
        for path in sorted(set(re.findall(r"example_project/[\w.-]+", page)))
        if not path.endswith(".sif") and not (TOPIC / path).exists()  # a .sif is built
    ]
    wanted = {
        "Tykky": r"module load tykky\b",
        "LUMI's container wrapper": r"module load LUMI lumi-container-wrapper",
        "conda-containerize": r"conda-containerize new --prefix \S+ example_project/environment\.yml",
        "pip-containerize": r"pip-containerize new --prefix \S+ example_project/requirements\.txt",
        "a build on the cluster": r"apptainer build --fakeroot \S+\.sif \S+\.def",
        "a copy of the .sif": r"scp \S+\.sif ",
        "the cache off home": r"export APPTAINER_CACHEDIR=/scratch/",
        "%help": r"apptainer run-help ",
        "%labels": r"apptainer inspect \S+\.sif",
    }
    problems += [
        f"no command for {what}" for what, regex in wanted.items() if not re.search(regex, page)
    ]
    return problems


def test_cluster_page_commands_name_real_files():
    assert page_problems(CLUSTER_PAGE.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("example_project/environment.yml", "example_project/env.yml", "env.yml, which does not"),
        ("module load tykky", "module load conda", "no command for Tykky"),
        ("module load LUMI lumi-container-wrapper", "", "LUMI's container wrapper"),
        ("apptainer build --fakeroot", "apptainer build", "a build on the cluster"),
    ],
)
def test_a_broken_cluster_page_is_caught(old, new, expected):
    page = CLUSTER_PAGE.read_text()
    assert old in page, "the fixture edit did not apply"
    problems = page_problems(page.replace(old, new))
    assert any(expected in p for p in problems), problems
