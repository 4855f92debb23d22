"""Measuring a distributed run honestly: synchronised clocks, memory from every rank, MFU.

* GPU work is asynchronous: a timer read before `torch.cuda.synchronize()` times the launch, not
  the work.
* Every rank reports its own peak memory (they differ under ZeRO and FSDP); rank 0 alone would
  hide the one that runs out.
* MFU divides by the peak of the math mode really used - TF32 when cuDNN may use it, which it may
  by default - times the devices doing the work: nn.DataParallel on k GPUs is one process
  driving k GPUs, so its peak is k times one GPU's.
"""

from __future__ import annotations

import resource
import statistics
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from scaling_multi_gpu.flops import achieved_tflops, mfu
from scaling_multi_gpu.hwinfo import math_mode, mfu_peak, tf32_flags

if TYPE_CHECKING:
    from scaling_multi_gpu.strategies import Dist
    from scaling_multi_gpu.train import TrainConfig


def sync(device: torch.device) -> None:
    if device.type == "cuda":  # GPU work is asynchronous: time only what has finished
        torch.cuda.synchronize(device)


def devices_used(cfg: TrainConfig, d: Dist) -> list[torch.device]:
    """The devices THIS process drives: all visible GPUs for nn.DataParallel, else its own."""
    if cfg.strategy == "dp" and d.device.type == "cuda":
        return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    return [d.device]


def reset_peak_memory(devices: list[torch.device]) -> None:
    for device in devices:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device) -> float:
    """Peak GPU memory allocated by tensors (reset per run), or on CPU the process's peak resident
    memory so far - which includes the Python runtime and any earlier run in the same launch."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def gather(value: Any, d: Dist) -> list[Any]:
    """The value from every rank, on every rank (a collective call)."""
    if d.backend is None:
        return [value]
    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, value)
    return out


def throughput_metrics(
    cfg: TrainConfig, d: Dist, flops_per_sample: float, step_times: list[float]
) -> dict[str, Any]:
    """samples/s, step time, achieved TFLOP/s per device and MFU for a finished run."""
    devices = devices_used(cfg, d)
    timed = step_times[2:] or step_times  # the first steps pay for warm-up (allocations, NCCL)
    step_time = statistics.median(timed)
    samples_per_s = cfg.global_batch / step_time
    per_device = achieved_tflops(flops_per_sample, samples_per_s) / (d.world * len(devices))
    tf32 = tf32_flags()
    peak = None
    if d.device.type == "cuda":  # per device: the per-device achieved over ONE device's peak
        peak = mfu_peak(torch.cuda.get_device_name(d.device), cfg.precision, any(tf32.values()))
    memory = [peak_memory_mib(dev) for dev in devices]  # dp: every GPU it drives
    return {
        "world_size": d.world,
        "backend": d.backend,
        "devices_per_process": len(devices),
        "samples_per_s": round(samples_per_s, 1),
        "step_time_s": round(step_time, 5),
        "peak_memory_mib_per_rank": [round(m, 1) for ms in gather(memory, d) for m in ms],
        "model_gflop_per_step": round(flops_per_sample * cfg.global_batch / 1e9, 4),
        "achieved_tflops_per_device": round(per_device, 4),
        "math_mode": math_mode(cfg.precision, any(tf32.values())),
        "allow_tf32": tf32,
        "peak_tflops_per_device": peak,
        "mfu": round(mfu(per_device, peak), 6) if peak else None,  # tiny for the small CNN
    }


def summary_line(variant: str, m: dict[str, Any], sha: str) -> str:
    mfu_text = (
        f", {m['achieved_tflops_per_device']:.2f} TFLOP/s/device, MFU {m['mfu']:.2%}"
        if m["mfu"] is not None
        else ""
    )
    return (
        f"{variant:<10} x{m['world_size']}  loss {m['final_loss']:.4f}  "
        f"acc {m.get('test_accuracy', float('nan')):.3f}  "
        f"{m['samples_per_s']:>8.1f} samples/s  step {m['step_time_s'] * 1e3:7.1f} ms  "
        f"peak mem/rank {m['peak_memory_mib_per_rank']} MiB{mfu_text}  weights {sha[:12]}"
    )
