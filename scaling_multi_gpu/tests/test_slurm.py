"""The CPU job scripts, submitted with sbatch to a real local Slurm, reproduce a direct run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scaling_multi_gpu.equivalence import DISTRIBUTED_VARIANTS

TOPIC = Path(__file__).resolve().parents[1]
SCRIPTS = TOPIC / "scripts"
STEPS = ["--steps", "30", "--seed", "0"]
SAME = ("weights_sha256", "data_sha256", "lock_sha256", "seed")


def job_env(out: Path) -> dict[str, str]:
    # The job runs under this interpreter and finds the package through PYTHONPATH (conftest).
    return {**os.environ, "PYTHON": sys.executable, "OUT": str(out)}


@pytest.fixture(scope="session")
def slurm_jobs(local_slurm, tmp_path_factory):
    """Submit both CPU jobs at once; the scheduler runs them as the 2 cores allow."""
    work = tmp_path_factory.mktemp("slurm-jobs")
    work.chmod(0o755)
    jobs = {}
    for name, args in (
        ("cpu_single", STEPS),
        ("cpu_ddp", ["--strategy", DISTRIBUTED_VARIANTS, *STEPS]),
    ):
        out = work / name
        job_id = local_slurm.submit(SCRIPTS / f"{name}.sbatch", args, cwd=work, env=job_env(out))
        jobs[name] = (job_id, out)
    states = {name: local_slurm.wait(job_id, timeout=900) for name, (job_id, _) in jobs.items()}
    logs = {
        name: next(work.glob(f"*-{job_id}.out")).read_text() for name, (job_id, _) in jobs.items()
    }
    return jobs, states, logs


def same_receipt(a: dict, b: dict) -> None:
    for key in SAME:
        assert a[key] == b[key], key
    assert a["config"] == b["config"]
    assert a["metrics"]["test_accuracy"] == b["metrics"]["test_accuracy"]
    assert a["metrics"]["final_loss"] == b["metrics"]["final_loss"]


def test_jobs_complete_and_log_what_they_got(slurm_jobs):
    jobs, states, logs = slurm_jobs
    assert states == {"cpu_single": "COMPLETED", "cpu_ddp": "COMPLETED"}, logs
    for name, (job_id, _) in jobs.items():
        assert f"SLURM_JOB_ID    {job_id}" in logs[name]  # hwinfo saw the allocation
    assert "single     x1" in logs["cpu_single"]
    assert "zero3      x2" in logs["cpu_ddp"]


def test_single_job_matches_a_direct_run(slurm_jobs, tmp_path):
    jobs, _, logs = slurm_jobs
    direct = tmp_path / "direct"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # what the job script exports for 1 CPU
    cmd = [
        sys.executable,
        "-m",
        "scaling_multi_gpu.train",
        "--strategy",
        "single",
        "--device",
        "cpu",  # as the job script: on a GPU machine "auto" would train on the GPU instead
        "--out",
        str(direct),
        *STEPS,
    ]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    job = json.loads((jobs["cpu_single"][1] / "run.json").read_text())
    same_receipt(job, json.loads((direct / "run.json").read_text()))


def test_ddp_job_matches_the_direct_launch(slurm_jobs, equivalence_run):
    """The job ran exactly the equivalence launch's command: every strategy's receipt must match."""
    jobs, _, _ = slurm_jobs
    out, rows = equivalence_run
    for r in rows:
        if r["world_size"] > 1:
            job = json.loads((jobs["cpu_ddp"][1] / r["variant"] / "run.json").read_text())
            same_receipt(job, json.loads((out / r["variant"] / "run.json").read_text()))


def loopback_only_shell() -> list[str]:
    """A command prefix that runs in a new network namespace with only `lo` up, or skips."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not (unshare and ip):
        pytest.skip("needs unshare and ip (util-linux, iproute2) to make a loopback-only network")
    prefix = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-r", "-n"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip(f"this machine does not allow {' '.join(prefix)} (no network namespaces)")
    return [*prefix, "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]


def test_local_slurm_comes_up_on_a_loopback_only_machine(local_slurm):
    """No network, no DNS (where Slurm's getaddrinfo() used to fail): the cluster still runs a job."""
    script = Path(__file__).with_name("local_slurm.py")
    done = subprocess.run(
        [*loopback_only_shell(), sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout.strip().splitlines()[-1:] == ["COMPLETED"], done.stdout[-3000:] + done.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash to parse the job scripts")
def test_job_scripts_have_commented_directives():
    for script in SCRIPTS.glob("*.sbatch"):
        text = script.read_text()
        subprocess.run(["bash", "-n", str(script)], check=True)  # parses as shell
        directives = [line for line in text.splitlines() if line.startswith("#SBATCH")]
        assert directives, script.name
        for line in directives:
            assert " # " in line, f"{script.name}: explain {line!r}"
