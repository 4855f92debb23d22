"""ddp_minimal.py, the one-screen DDP script, trains bit for bit what train.py --strategy ddp trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def receipts(ddp_launches):
    """train.py's DDP and ddp_minimal, both with seed 3 (conftest's ddp_launches)."""
    return {name: json.loads(path.read_text()) for name, path in ddp_launches.items()}


def test_ddp_minimal_equals_train_py_ddp_bitwise(receipts):
    assert receipts["minimal"]["weights_sha256"] == receipts["train"]["weights_sha256"]
    assert receipts["minimal"]["data_sha256"] == receipts["train"]["data_sha256"]
    assert receipts["minimal"]["seed"] == receipts["train"]["seed"] == 3


def test_ddp_minimal_stays_minimal():
    source = (Path(__file__).parents[1] / "src/scaling_multi_gpu/ddp_minimal.py").read_text()
    assert len(source.splitlines()) <= 90
    for api in ("init_process_group", "DistributedSampler", "set_epoch", "DDP(", "manual_seed"):
        assert api in source, api


def test_without_torchrun_it_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    done = subprocess.run(
        [sys.executable, "-m", "scaling_multi_gpu.ddp_minimal", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "launch with torchrun" in done.stderr and not (tmp_path / "o").exists()
