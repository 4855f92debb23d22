"""env-info records the documented fields; env-diff ranks what differs and is silent on equals."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import numpy
import pytest
from conftest import EXAMPLE, SRC, TOPIC, needs_uv, run_module
from environments.envdiff import diff_records
from environments.envinfo import FIELDS, NUMERIC_ENV_VARS, collect


@pytest.fixture(scope="module")
def record():
    return collect(with_torch=False)


def test_record_has_documented_fields(record):
    # The fields the README documents, spelled out: dropping one from the code fails here.
    documented = "schema created python platform cpu numeric_env blas torch nvidia_smi lockfile git"
    assert tuple(record) == FIELDS == (*documented.split(), "packages")
    assert record["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert set(record["numeric_env"]) == set(NUMERIC_ENV_VARS)
    assert record["packages"]["numpy"] == numpy.__version__
    # The lock hash, computed here from the file's bytes, not through the code under test.
    assert (
        record["lockfile"]["sha256"] == hashlib.sha256((TOPIC / "uv.lock").read_bytes()).hexdigest()
    )
    assert any(lib.startswith("openblas") or "mkl" in lib for lib in record["blas"])


@needs_uv
def test_packages_are_what_uv_sees(record):
    """Another reader of the same environment (uv, in Rust) lists the same distributions."""
    done = subprocess.run(
        [shutil.which("uv"), "pip", "list", "--format", "json", "--python", sys.executable],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    )
    assert done.returncode == 0, done.stderr
    listed = {
        re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(done.stdout)
    }
    assert record["packages"] == listed


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")
def test_usable_cores_follow_the_affinity_not_the_machine(tmp_path):
    """Slurm and containers pin a job to some cores: the record must say 1 when given 1, while
    still naming the machine's total. (`os.cpu_count()` alone would say the machine's.)"""
    out = tmp_path / "env.json"
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "environments.envinfo", "--no-torch"]
    done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    cpu = json.loads(out.read_text())["cpu"]
    assert cpu["usable_cores"] == 1
    assert cpu["logical_cores"] == int(subprocess.check_output(["nproc", "--all"], text=True))


def test_works_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert collect()["torch"] is None


def test_cli_records_thread_variable(tmp_path):
    out = tmp_path / "env.json"
    env = {"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = run_module("environments.envinfo", "--no-torch", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    assert record["numeric_env"]["OMP_NUM_THREADS"] == "3"
    # ... and its effect: the BLAS numpy loaded really runs one thread (threadpoolctl asks it).
    assert [lib["num_threads"] for lib in record["blas"].values()] == [1] * len(record["blas"])


def test_record_inside_an_image_hashes_the_lock_it_was_built_from(locked_example_env, tmp_path):
    """What scripts/slurm_apptainer.sh does in the container: the image's own Python (here the
    example project's environment built from its lock), this topic's code bound in, `--lock`.
    Without --lock the record looks for a uv.lock next to the bound code: none, a null hash."""
    bound = tmp_path / "opt" / "envtools"
    shutil.copytree(SRC / "environments", bound / "environments")
    env = {"PYTHONPATH": str(bound), "PATH": os.environ["PATH"]}  # like --cleanenv
    lock = EXAMPLE / "uv.lock"

    def envinfo(*args: str) -> dict:
        out = tmp_path / "env.json"
        cmd = [str(locked_example_env), "-m", "environments.envinfo", "--no-torch", *args]
        done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(out.read_text())

    inside = envinfo("--lock", str(lock))
    assert inside["lockfile"]["sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    locked = {p["name"]: p["version"] for p in tomllib.loads(lock.read_text())["package"]}
    assert inside["packages"]["numpy"] == locked["numpy"]
    assert "deptry" not in inside["packages"]  # the image's environment, not this topic's
    assert envinfo()["lockfile"]["sha256"] is None


def test_identical_records_have_no_differences(record):
    later = copy.deepcopy(record)
    later["created"] = "2030-01-01T00:00:00+00:00"  # when it was taken is not a difference
    assert diff_records(record, later) == []


def test_package_and_thread_changes_ranked(record, tmp_path):
    other = copy.deepcopy(record)
    # Values no real machine here has, so the test holds wherever it runs.
    other["packages"]["numpy"] = "1.0.0rc1"
    other["numeric_env"]["OMP_NUM_THREADS"] = "97"
    other["cpu"]["usable_cores"] = 12345
    rows = diff_records(record, other)
    keys = [r["key"] for r in rows]
    assert keys == ["numeric_env.OMP_NUM_THREADS", "packages.numpy", "cpu.usable_cores"]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(record))
    b.write_text(json.dumps(other))
    done = run_module("environments.envdiff", str(a), str(b))
    assert done.returncode == 1
    assert "numeric_env.OMP_NUM_THREADS: " in done.stdout and "-> 97" in done.stdout
    assert "packages.numpy: " in done.stdout and "-> 1.0.0rc1" in done.stdout
    assert run_module("environments.envdiff", str(a), str(a)).stdout.strip() == "no differences"


def test_envinfo_unwritable_out_is_one_line(tmp_path):
    done = run_module("environments.envinfo", "--no-torch", "--out", str(tmp_path))  # a folder
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_envdiff_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = run_module("environments.envdiff", str(bad), str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def torch_record():
    pytest.importorskip("torch")
    return collect(with_torch=True)


def test_torch_facts_when_importable(torch_record):
    import torch

    facts = torch_record["torch"]
    assert facts["version"] == torch.__version__
    assert facts["cuda"] == torch.version.cuda
    assert set(facts) >= {"cudnn", "nccl", "cuda_available", "num_threads", "devices"}


@pytest.mark.slow
def test_covers_what_collect_env_reports(torch_record):
    """envinfo holds the facts torch's own bug-report tool prints, as JSON one can diff."""
    done = run_module("torch.utils.collect_env")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert re.search(r"^PyTorch version: (.+)$", text, re.M)[1] == torch_record["torch"]["version"]
    cuda = re.search(r"^CUDA used to build PyTorch: (.+)$", text, re.M)[1]
    assert cuda == str(torch_record["torch"]["cuda"] or "None")
    python = re.search(r"^Python version: (\S+)", text, re.M)[1]
    assert python == torch_record["python"]["version"]


@pytest.mark.gpu
def test_gpu_facts_recorded(torch_record):
    """Untested here (no GPU): on a GPU node the devices and driver must be in the record."""
    facts = torch_record["torch"]
    assert facts["cuda_available"] and facts["devices"]
    assert facts["devices"][0]["name"] and facts["devices"][0]["memory_gib"] > 0
    assert torch_record["nvidia_smi"], "nvidia-smi present but not recorded"
