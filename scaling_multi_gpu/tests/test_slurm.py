"""The CPU job scripts, submitted with sbatch to a real local Slurm, reproduce a direct run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
SCRIPTS = TOPIC / "scripts"
SAME = ("weights_sha256", "data_sha256", "lock_sha256", "seed")


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


def test_single_job_matches_the_direct_one_process_run(slurm_jobs, equivalence_run):
    """The job's `train --strategy single --steps 30 --seed 0` on its 1 core = the demo's
    one-process reference, trained directly in this process with 1 thread (same config)."""
    jobs, _, _ = slurm_jobs
    out, _ = equivalence_run
    job = json.loads((jobs["cpu_single"][1] / "run.json").read_text())
    same_receipt(job, json.loads((out / "single" / "run.json").read_text()))


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
