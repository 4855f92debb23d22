"""ddp_minimal.py, the one-screen DDP script, trains bit for bit what train.py --strategy ddp trains."""

from __future__ import annotations

import json
import runpy
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


def test_without_torchrun_it_says_so(tmp_path, monkeypatch, capsys):
    """Run as `python -m` runs it (in this process: the refusal comes before any work)."""
    for key in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "argv", ["ddp_minimal.py", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("scaling_multi_gpu.ddp_minimal", run_name="__main__")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.strip().splitlines() == [err.strip()]
    assert "launch with torchrun" in err and not (tmp_path / "o").exists()
