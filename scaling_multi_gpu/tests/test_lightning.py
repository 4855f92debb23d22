"""Lightning's Trainer(strategy="ddp") on CPU trains the same model as the hand-written DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def lightning_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lightning")
    cmd = [sys.executable, "-m", "scaling_multi_gpu.lightning_train", "--strategy", "ddp", "--devices", "2",
           "--accelerator", "cpu", "--steps", "30", "--seed", "0", "--out", str(out)]  # fmt: skip
    # Inside a Slurm job Lightning would expect srun to start its processes: this test is about
    # Lightning starting them itself, so hide the outer job's variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((out / "run.json").read_text())


def test_lightning_ddp_learns_on_two_cpu_processes(lightning_run):
    assert lightning_run["metrics"]["world_size"] == 2
    assert lightning_run["metrics"]["test_accuracy"] >= 0.9


def test_lightning_ddp_equals_hand_written_ddp_bitwise(lightning_run, equivalence_run):
    """Same seed, same DistributedSampler slices, same SGD: Lightning adds convenience, not noise."""
    out, _ = equivalence_run
    ddp = json.loads((out / "ddp" / "run.json").read_text())
    assert lightning_run["weights_sha256"] == ddp["weights_sha256"]
    assert lightning_run["data_sha256"] == ddp["data_sha256"]


@pytest.mark.filterwarnings("ignore:The `srun` command is available")  # the local test Slurm's srun
def test_lightning_fsdp_refuses_a_cpu(monkeypatch):
    from scaling_multi_gpu.lightning_train import probe_strategies

    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)

    verdicts = probe_strategies(["ddp", "fsdp"], devices=2, accelerator="cpu")
    assert verdicts["ddp"] == "accepted"
    assert verdicts["fsdp"].startswith("refused") and "GPU" in verdicts["fsdp"], verdicts


@pytest.mark.verifies("scaling-lightning")
def test_verify_relaunches_the_lightning_receipt_and_says_match(lightning_run, tmp_path_factory):
    found = tmp_path_factory.getbasetemp().glob("lightning*/run.json")  # the fixture's run
    sha = lightning_run["weights_sha256"]
    receipt = next(p for p in found if json.loads(p.read_text())["weights_sha256"] == sha)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    done = subprocess.run(
        [sys.executable, "-m", "scaling_multi_gpu.receipt", "verify", str(receipt)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]
