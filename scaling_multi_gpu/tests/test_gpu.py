"""GPU checks: run where CUDA is present, skipped with a reason elsewhere ("no GPU" and "torch
cannot use the GPU" are different reasons). `scripts/device_check.sh` runs them with the bench."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gpu
needs_deepspeed = pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None, reason="needs DeepSpeed (not installed here)"
)
ARGS = ["--steps", "30", "--seed", "0", "--global-batch", "64"]


def train(
    tmp_path, name: str, strategy: str, nproc: int | None = None, extra: list[str] | None = None
) -> dict:
    out = tmp_path / name
    module = [
        "-m",
        "scaling_multi_gpu.train",
        "--strategy",
        strategy,
        "--out",
        str(out),
        *ARGS,
        *(extra or []),
    ]
    if nproc is None:
        cmd = [sys.executable, *module]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={nproc}",
            *module,
        ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {
        p.parent.name if p.parent != out else strategy: json.loads(p.read_text())
        for p in out.rglob("run.json")
    }


def test_single_gpu_run_is_bitwise_reproducible(tmp_path):
    first = train(tmp_path, "a", "single")["single"]
    second = train(tmp_path, "b", "single")["single"]
    assert first["env"]["device"] == "cuda"
    assert first["weights_sha256"] == second["weights_sha256"]
    assert first["metrics"]["test_accuracy"] >= 0.9


def test_nccl_ddp_with_world_size_one(tmp_path):
    run = train(tmp_path, "ddp", "ddp", nproc=1)["ddp"]
    assert run["metrics"]["backend"] == "nccl" and run["metrics"]["world_size"] == 1
    assert run["metrics"]["test_accuracy"] >= 0.9


def check_throughput_and_mfu(runs: dict) -> None:
    import torch
    from scaling_multi_gpu.hwinfo import peak_tflops

    # MFU needs the datasheet peak: required wherever this GPU is in the table (H100, H200, ...).
    known_peak = peak_tflops(torch.cuda.get_device_name(0), "tf32") is not None
    for name, run in runs.items():
        m = {**run["metrics"], **run["measurements"]}
        print(
            f"{name:<7} {m['samples_per_s']:>9.1f} samples/s  {m['achieved_tflops_per_device']:.3f} TFLOP/s  MFU {m['mfu']}  mem {m['peak_memory_mib_per_rank']} MiB"
        )
        assert run["env"]["device"] == "cuda", name  # no silent fall-back to the CPU
        assert m["backend"] == (None if name == "single" else "nccl"), name
        assert m["samples_per_s"] > 0 and m["achieved_tflops_per_device"] > 0
        assert m["test_accuracy"] >= 0.9, name
        # fp32 with PyTorch's defaults: cuDNN may use TF32, so the TF32 peak is the denominator
        assert m["allow_tf32"]["cudnn"] and m["math_mode"] == "tf32", name
        if known_peak:
            assert m["mfu"] is not None and 0 < m["mfu"] < 1, (name, m["mfu"])


def test_throughput_and_mfu_for_each_strategy_on_one_gpu(tmp_path):
    runs = train(tmp_path, "all", "ddp,fsdp", nproc=1)
    runs["single"] = train(tmp_path, "single", "single")["single"]
    assert set(runs) == {"single", "ddp", "fsdp"}
    check_throughput_and_mfu(runs)


@needs_deepspeed
def test_throughput_and_mfu_for_each_zero_stage_on_one_gpu(tmp_path):
    runs = train(tmp_path, "zero", "zero1,zero2,zero3", nproc=1)
    assert set(runs) == {"zero1", "zero2", "zero3"}
    check_throughput_and_mfu(runs)


def test_tf32_off_is_recorded_and_divides_by_the_fp32_peak(tmp_path):
    run = train(tmp_path, "fp32", "single", extra=["--tf32", "off"])["single"]
    m = run["metrics"]
    assert m["allow_tf32"] == {"matmul": False, "cudnn": False} and m["math_mode"] == "fp32"
    assert run["config"]["tf32"] == "off"


def test_resnet152_at_32px_trains_with_sync_bn_and_accumulation(tmp_path):
    """The GPU paths a learner meets first: ResNet-152 at 32 px (BatchNorm with a 1x1 map in the
    last stage), SyncBatchNorm under DDP, gradient accumulation with no_sync, device evaluation."""
    pytest.importorskip("torchvision", reason="needs the vision extra: uv sync --extra vision")
    extra = ["--model", "resnet152", "--sync-bn", "--grad-accum", "2", "--n-samples", "256"]
    run = train(tmp_path, "resnet", "ddp", nproc=1, extra=extra)["ddp-accum2"]
    assert run["config"]["sync_bn"] and run["config"]["micro_batch"] == 32
    assert run["metrics"]["backend"] == "nccl" and run["metrics"]["final_loss"] > 0
