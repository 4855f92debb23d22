"""The thread count is part of the computation, and the receipt says so.

Two one-process training runs that differ only in OMP_NUM_THREADS end with other bits; the
shared receipt command (`python -m scaling_multi_gpu.receipt compare`) reports how far apart the
weights are and names the thread count as the cause. On a GPU machine, a CPU run and a CUDA run of
the same configuration are compared the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "scaling_multi_gpu.receipt"]
TRAIN = [sys.executable, "-m", "scaling_multi_gpu.train", "--strategy", "single", "--steps", "12"]


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=600, env=env)


def train(out: Path, *args: str, env: dict[str, str] | None = None) -> Path:
    done = run([*TRAIN, *args, "--out", str(out)], env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    (receipt,) = out.rglob("run.json")
    return receipt


def test_another_thread_count_changes_the_bits_and_compare_names_it(tmp_path):
    # PASSIVE: waiting OpenMP threads sleep instead of spinning (same results, no 20x slowdown
    # when the cores are busy).
    one = train(tmp_path / "one", "--device", "cpu", env={"OMP_NUM_THREADS": "1"})
    two = train(
        tmp_path / "two",
        "--device",
        "cpu",
        env={"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    )
    a, b = (json.loads(p.read_text()) for p in (one, two))
    assert (a["env"]["torch_threads"], b["env"]["torch_threads"]) == (1, 2)
    assert a["weights_sha256"] != b["weights_sha256"], (
        "2 threads gave the same bits: nothing to explain"
    )
    done = run([*RECEIPT, "compare", str(one), str(two)])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "max |Δw| = " in done.stdout.splitlines()[0]
    causes = done.stdout.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    assert "env.torch_threads: 1 -> 2" in causes
    assert 'env.OMP_NUM_THREADS: "1" -> "2"' in causes


@pytest.mark.gpu
def test_a_cpu_and_a_cuda_run_are_within_tolerance_and_compare_names_the_device(tmp_path):
    env = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "OMP_NUM_THREADS": "1"}
    cpu = train(tmp_path / "cpu", "--device", "cpu", env=env)
    gpu = train(tmp_path / "gpu", "--device", "auto", env=env)
    assert json.loads(gpu.read_text())["env"]["device"].startswith("cuda")
    done = run([*RECEIPT, "compare", str(cpu), str(gpu)])
    assert done.stdout.startswith("WITHIN TOLERANCE"), done.stdout + done.stderr
    causes = done.stdout.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    assert 'env.device: "cpu" -> "cuda' in causes
