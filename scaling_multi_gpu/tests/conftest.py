"""Shared test set-up: make `scaling_multi_gpu` importable by subprocesses; skip GPU tests without CUDA."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TOPIC_ROOT = Path(__file__).resolve().parents[1]
SRC = str(TOPIC_ROOT / "src")
# Subprocesses (torchrun workers, Slurm jobs) must import the package even where it is not installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
if SRC not in sys.path:
    sys.path.insert(0, SRC)


# GPU tests: without a usable GPU they skip with a reason, unless the root runner's --gpu=on
# (ML_REPRO_GPU=on) says they must run; then each fails, naming why. What this run saw goes to
# ML_REPRO_DEVICE_FILE, the root matrix's device column.
GPU_MISSING = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from scaling_multi_gpu.hwinfo import cuda_status

    if not any("gpu" in item.keywords for item in items):
        return
    usable, why = cuda_status()  # "no GPU" and "torch cannot use the GPU (...)" differ on purpose
    if os.environ.get("ML_REPRO_DEVICE_FILE"):
        Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cuda" if usable else "cpu")
    if usable:
        return
    for item in items:
        if "gpu" in item.keywords:
            if os.environ.get("ML_REPRO_GPU") == "on":
                item.stash[GPU_MISSING] = f"needs a CUDA GPU: {why}"
            else:
                item.add_marker(pytest.mark.skip(reason=f"needs a CUDA GPU: {why}"))


def pytest_runtest_setup(item):
    if (why := item.stash.get(GPU_MISSING, None)) is not None:
        pytest.fail(f"--gpu=on: this gpu test must run, but {why}", pytrace=False)


@pytest.fixture(scope="session")
def equivalence_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The headline demo: one reference run + ONE 2-process torchrun launch of every strategy."""
    import json

    from scaling_multi_gpu import demo

    out = tmp_path_factory.mktemp("equivalence")
    assert demo.main(["--out", str(out), "--steps", "30"]) == 0
    return out, json.loads((out / "equivalence.json").read_text())


SETTINGS = ["--steps", "10", "--n-samples", "256", "--global-batch", "64"]  # crosses 2 epochs


@pytest.fixture(scope="session")
def ddp_launches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two 2-process torchrun launches at once: train.py's DDP and ddp_minimal, both with seed 3
    (not the default 0: a script that ignored --seed, like the workshop's ddp.py, would train seed
    0's model). Their receipts, by name."""
    import subprocess

    root = tmp_path_factory.mktemp("ddp_minimal")

    def torchrun(module: str, out: Path, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               "-m", module, *SETTINGS, "--out", str(out), *args]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    runs = {
        # --profile too: test_profile.py reads its traces, and ddp_minimal's bitwise match shows
        # that profiling changed nothing the run computed.
        "train": torchrun("scaling_multi_gpu.train", root / "train", "--strategy", "ddp", "--seed", "3", "--device", "cpu", "--profile", str(root / "train-profile")),
        "minimal": torchrun("scaling_multi_gpu.ddp_minimal", root / "minimal", "--seed", "3"),
    }  # fmt: skip
    for name, proc in runs.items():
        output = proc.communicate()[0]
        assert proc.returncode == 0, f"{name}:\n{output[-3000:]}"
    return {name: root / name / "run.json" for name in runs}


@pytest.fixture(scope="session")
def local_slurm():
    """A real single-node Slurm on localhost for this session (see local_slurm.py)."""
    import shutil
    import tempfile

    from local_slurm import LocalSlurm, missing_binaries

    if sys.platform != "linux":  # also under CI=true: a macOS or Windows runner has no Slurm
        pytest.skip(f"needs Linux: Slurm, munge and unshare do not run on {sys.platform}")
    missing = missing_binaries()
    if missing:
        message = f"needs Slurm and munge (apt-get install slurmctld slurmd slurm-client munge); missing: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true the Slurm tests must run: {message}")
        pytest.skip(message)
    root = Path(
        tempfile.mkdtemp(prefix="scaling-slurm-")
    )  # not pytest's tmp: munged needs a world-searchable path
    cluster = LocalSlurm(root)
    try:
        cluster.start()
    except RuntimeError:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


SLURM_STEPS = ["--steps", "30", "--seed", "0"]  # the demo's settings: the jobs rerun its runs


@pytest.fixture(scope="session")
def slurm_jobs(local_slurm, tmp_path_factory):
    """Submit both CPU jobs at once; the scheduler runs them as the 2 cores allow. cpu_ddp runs
    the equivalence launch's command, so it is also that launch's rerun (test_equivalence.py)."""
    from scaling_multi_gpu.equivalence import DISTRIBUTED_VARIANTS

    work = tmp_path_factory.mktemp("slurm-jobs")
    work.chmod(0o755)
    jobs = {}
    for name, args in (
        ("cpu_single", SLURM_STEPS),
        ("cpu_ddp", ["--strategy", DISTRIBUTED_VARIANTS, *SLURM_STEPS]),
    ):
        out = work / name
        # The job runs under this interpreter and finds the package through PYTHONPATH (above).
        env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out)}
        script = TOPIC_ROOT / "scripts" / f"{name}.sbatch"
        jobs[name] = (local_slurm.submit(script, args, cwd=work, env=env), out)
    states = {name: local_slurm.wait(job_id, timeout=900) for name, (job_id, _) in jobs.items()}
    logs = {
        name: next(work.glob(f"*-{job_id}.out")).read_text() for name, (job_id, _) in jobs.items()
    }
    return jobs, states, logs
