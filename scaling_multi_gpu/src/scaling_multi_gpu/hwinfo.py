"""What is this machine? Cores, memory, GPUs, how they are wired, and how fast they could go.

Before scaling anything, know the hardware: how many CPU cores feed the DataLoader, how much
memory each GPU has (decides DDP vs ZeRO vs FSDP), how the GPUs talk (NVLink or PCIe, from
`nvidia-smi topo -m`), the CUDA/cuDNN/NCCL versions (they change numerics), and the device's peak
FLOP/s, so a measured throughput can be read as a fraction of peak (MFU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import torch

from scaling_multi_gpu.cli import run_cli

# Dense peak tensor throughput in TFLOP/s from vendor datasheets (no 2:4 sparsity).
# "fp32" is plain FP32 (what PyTorch matmuls use by default), not TF32.
# Matched by substring of torch.cuda.get_device_name(), most specific first.
PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [
    ("H200", {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0}),
    ("H100 PCIe", {"bf16": 756.0, "fp16": 756.0, "fp32": 51.0}),
    ("H100", {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0}),  # SXM
    ("A100", {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5}),
    ("L40S", {"bf16": 362.0, "fp16": 362.0, "fp32": 91.6}),
    ("A40", {"bf16": 149.7, "fp16": 149.7, "fp32": 37.4}),
    ("V100", {"fp16": 125.0, "fp32": 15.7}),
    ("T4", {"fp16": 65.0, "fp32": 8.1}),
    ("MI300X", {"bf16": 1307.0, "fp16": 1307.0, "fp32": 163.4}),
    ("MI250X", {"bf16": 383.0, "fp16": 383.0, "fp32": 47.9}),
]


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """Datasheet peak for a GPU name and dtype ("bf16", "fp16", "fp32"); None when unknown."""
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peaks.get(dtype)
    return None


def cpu_info() -> dict[str, Any]:
    """Logical cores, the cores this process may use, sockets and the CPU model."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    sockets = {
        line.split(":")[1].strip() for line in text.splitlines() if line.startswith("physical id")
    }
    models = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")
    ]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "model": models[0] if models else platform.processor(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,  # what Slurm/cgroups actually give you: size num_workers by this
        "sockets": len(sockets) or 1,
        "torch_threads": torch.get_num_threads(),
    }


def memory_gib() -> float | None:
    """Total RAM in GiB (from /proc/meminfo on Linux)."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def gpu_info() -> list[dict[str, Any]]:
    """One entry per visible CUDA device: name, memory, compute capability, datasheet peaks."""
    gpus = []
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        p = torch.cuda.get_device_properties(i)
        gpus.append(
            {
                "index": i,
                "name": p.name,
                "memory_gib": round(p.total_memory / 2**30, 1),
                "compute_capability": f"{p.major}.{p.minor}",
                "multiprocessors": p.multi_processor_count,
                "peak_tflops_bf16": peak_tflops(p.name, "bf16"),
                "peak_tflops_fp32": peak_tflops(p.name, "fp32"),
            }
        )
    return gpus


def gpu_topology() -> str | None:
    """`nvidia-smi topo -m`: NV# = NVLink, PIX/PXB/PHB/SYS = PCIe paths of growing cost."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", "topo", "-m"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else None


def software_versions() -> dict[str, Any]:
    """The library versions that change numerics or communication."""
    nccl = None
    if torch.cuda.is_available():
        try:
            nccl = ".".join(map(str, torch.cuda.nccl.version()))
        except (AttributeError, RuntimeError):
            nccl = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "nccl": nccl,
        "gloo": torch.distributed.is_gloo_available()
        if torch.distributed.is_available()
        else False,
    }


def collect() -> dict[str, Any]:
    """Everything above, as one JSON-ready dict."""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "memory_gib": memory_gib(),
        "gpus": gpu_info(),
        "gpu_topology": gpu_topology(),
        "software": software_versions(),
        "slurm": {
            k: v
            for k, v in os.environ.items()
            if k.startswith("SLURM_")
            and k.endswith(("ID", "NODELIST", "NTASKS", "CPUS_PER_TASK", "GPUS"))
        },
    }


def render(info: dict[str, Any]) -> str:
    """A human-readable summary."""
    cpu = info["cpu"]
    lines = [
        f"host            {info['host']}  ({info['platform']})",
        f"cpu             {cpu['model']}",
        f"cores           {cpu['logical_cores']} logical, {cpu['usable_cores']} usable by this process, {cpu['sockets']} socket(s)",
        f"memory          {info['memory_gib']} GiB",
    ]
    sw = info["software"]
    lines.append(
        f"software        torch {sw['torch']}, CUDA {sw['cuda']}, cuDNN {sw['cudnn']}, NCCL {sw['nccl']}, gloo {sw['gloo']}"
    )
    if not info["gpus"]:
        lines.append("gpus            none visible: distributed runs use the gloo backend on CPU")
    for g in info["gpus"]:
        peak = (
            f"peak {g['peak_tflops_bf16']} TFLOP/s bf16, {g['peak_tflops_fp32']} fp32"
            if g["peak_tflops_fp32"]
            else "peak unknown (add it to PEAK_TFLOPS)"
        )
        lines.append(
            f"gpu {g['index']}           {g['name']}, {g['memory_gib']} GiB, sm_{g['compute_capability']}, {peak}"
        )
    if info["gpu_topology"]:
        lines += ["gpu topology (nvidia-smi topo -m):", info["gpu_topology"]]
    for k, v in info["slurm"].items():
        lines.append(f"{k:<15} {v}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    args = parser.parse_args(argv)

    def body() -> None:
        info = collect()
        print(json.dumps(info, indent=2) if args.json else render(info))

    return run_cli(body)


if __name__ == "__main__":
    raise SystemExit(main())
