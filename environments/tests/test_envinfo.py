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
    # The BLAS numpy was built with, asked of numpy itself: threadpoolctl must have found it
    # (except Apple's Accelerate, which threadpoolctl cannot inspect: macOS arm64 wheels use it).
    blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    if "accelerate" not in blas.lower():
        assert any(lib.split(":")[0] in blas.lower() for lib in record["blas"]), (blas, record)


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


DIFF_BLOCK = re.compile(r"^\d+ difference\(s\), most important first:\n(?:  \[.*\n)+", re.M)
DIFF_ROW = re.compile(r"^  \[(\w+)\] ([\w.]+): (.+) -> (.+)$")


def docs_diff_example(document: str) -> str:
    """The env-diff output a document shows (README.md, slides.md): one block, the same in both."""
    (block,) = DIFF_BLOCK.findall((TOPIC / document).read_text())
    return block


def planted(record: dict, key: str, shown: str) -> None:
    """Set `key` (dotted) to the value env-diff shows as `shown`, keeping the field's type."""
    *parents, last = key.split(".")
    for part in parents:
        record = record[part]
    if shown == "(unset)":
        record[last] = None
    else:
        record[last] = type(record[last])(shown) if record.get(last) is not None else shown


@pytest.mark.parametrize("document", ["README.md", "slides.md"])
def test_docs_show_what_env_diff_prints(record, tmp_path, document):
    """The example in the docs is env-diff's real output: both records are built from the values
    the example shows (so the test holds on any machine), and the order is env-diff's own."""
    block = docs_diff_example(document)
    rows = [DIFF_ROW.match(line).groups() for line in block.splitlines()[1:]]
    a, b = copy.deepcopy(record), copy.deepcopy(record)
    for _, key, before, after in rows:
        planted(a, key, before)
        planted(b, key, after)
    assert [r["key"] for r in diff_records(a, b)] == [key for _, key, _, _ in rows]
    files = tmp_path / "a.json", tmp_path / "b.json"
    for path, planted_record in zip(files, (a, b), strict=True):
        path.write_text(json.dumps(planted_record))
    done = run_module("environments.envdiff", *map(str, files))
    assert done.returncode == 1
    assert done.stdout == block
    same = run_module("environments.envdiff", str(files[0]), str(files[0]))
    assert same.stdout.strip() == "no differences"


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


def test_torch_facts_are_the_locked_build_and_the_threads_it_ran(tmp_path):
    """Checked against independent sources: the version against this topic's uv.lock (not
    torch's own attribute), the thread count against the value set from outside the process,
    which changes the order of float sums (a fact the record must follow, not the core count)."""
    pytest.importorskip("torch")
    from packaging.version import Version

    lock = tomllib.loads((TOPIC / "uv.lock").read_text())
    locked = next(p["version"] for p in lock["package"] if p["name"] == "torch")
    out = tmp_path / "env.json"
    done = run_module("environments.envinfo", "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    facts = json.loads(out.read_text())["torch"]
    assert Version(facts["version"]).public == locked  # `2.15.0+cpu` is the locked 2.15.0
    assert facts["num_threads"] == 1  # not the machine's default (its usable cores)


def test_readme_quotes_the_cuda_stack_of_its_torch_build(torch_record):
    """cuDNN and NCCL versions are compiled into the torch wheel: they depend on the build, not
    on the CPU. The README names the build it ran (its fingerprint); with that build installed
    the figures must match exactly, with another (CPU-only on macOS/Windows) they do not apply."""
    readme = (TOPIC / "gpu_builds" / "README.md").read_text()  # the page that quotes it
    build = re.search(r"Both were run in this topic's environment \(torch (\S+), no GPU\)", readme)
    assert build, "the README no longer names the torch build its collect_env table came from"
    facts = torch_record["torch"]
    if facts["version"] != build[1]:
        pytest.skip(
            f"the README's table was made with torch {build[1]}; here torch is "
            f"{facts['version']} (fields that differ: torch.version, cudnn, nccl)"
        )
    assert f"the cuDNN torch loads: {facts['cudnn']} |" in readme
    assert f"| NCCL | no | yes ({facts['nccl']}) |" in readme


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
