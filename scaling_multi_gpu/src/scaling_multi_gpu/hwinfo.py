"""What is this machine? Cores, memory, GPUs, how they are wired, and how fast they could go.

Before scaling anything, know the hardware: how many CPU cores feed the DataLoader, how much
memory each GPU has (decides DDP vs ZeRO vs FSDP), how the GPUs talk (NVLink or PCIe, from
`nvidia-smi topo -m`), the CUDA/cuDNN/NCCL versions (they change numerics), and the device's peak
FLOP/s, so a measured throughput can be read as a fraction of peak (MFU).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import torch

from scaling_multi_gpu.plumbing import OneLineParser, run_at_edge

# Dense peak throughput in TFLOP/s from vendor datasheets (no 2:4 sparsity), per math mode:
# "fp32" is true FP32 (CUDA cores), "tf32" is FP32 data on tensor cores with a 10-bit mantissa.
# PyTorch lets cuDNN convolutions use TF32 by default (torch.backends.cudnn.allow_tf32 = True) but
# not matmuls: an "fp32" ResNet run is mostly TF32, and dividing it by the fp32 peak would report an
# MFU above 100 %. `mfu_peak()` picks the column from the flags actually set.
# Matched by substring of torch.cuda.get_device_name(), most specific first. Missing = unknown.
PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [
    ("H200", {"bf16": 989.0, "fp16": 989.0, "tf32": 494.7, "fp32": 67.0}),  # SXM
    ("H100 PCIe", {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100 NVL", {"bf16": 835.0, "fp16": 835.0, "tf32": 417.5, "fp32": 60.0}),
    ("H100", {"bf16": 989.0, "fp16": 989.0, "tf32": 494.7, "fp32": 67.0}),  # SXM
    ("A100", {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    ("L40S", {"bf16": 362.0, "fp16": 362.0, "tf32": 183.0, "fp32": 91.6}),
    ("A40", {"bf16": 149.7, "fp16": 149.7, "tf32": 74.8, "fp32": 37.4}),
    ("V100", {"fp16": 125.0, "fp32": 15.7}),  # no bf16, no tf32 tensor cores
    ("T4", {"fp16": 65.0, "fp32": 8.1}),
    ("MI300X", {"bf16": 1307.4, "fp16": 1307.4, "tf32": 653.7, "fp32": 163.4}),
    ("MI250X", {"bf16": 383.0, "fp16": 383.0, "fp32": 47.9}),
]


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """Datasheet peak for a GPU name and math mode (bf16, fp16, tf32, fp32); None when unknown."""
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peaks.get(dtype)
    return None


def math_mode(precision: str, allow_tf32: bool) -> str:
    """The tensor-core mode a run's matmuls and convolutions really use: bf16, tf32 or fp32."""
    if precision in ("bf16", "fp16"):
        return precision
    return "tf32" if allow_tf32 else "fp32"


def mfu_peak(device_name: str, precision: str, allow_tf32: bool, devices: int = 1) -> float | None:
    """The peak to divide achieved FLOP/s by: the right column, times the devices doing the work
    (nn.DataParallel on k GPUs is ONE process whose throughput k GPUs produce)."""
    peak = peak_tflops(device_name, math_mode(precision, allow_tf32))
    return peak * devices if peak is not None else None


def tf32_flags() -> dict[str, bool]:
    """What PyTorch will let TF32 do right now (matmuls and cuDNN convolutions are separate)."""
    return {
        "matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn": bool(torch.backends.cudnn.allow_tf32),
    }


def cuda_status() -> tuple[bool, str]:
    """(usable, why not): tells "no GPU here" apart from "a GPU torch cannot use" (driver too old
    for this torch's CUDA, or a CPU-only torch build) - the fixes are different."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        usable = torch.cuda.is_available()
    if usable:
        return True, f"{torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}"
    hardware = Path("/dev/nvidia0").exists() or Path("/dev/kfd").exists()
    if shutil.which("nvidia-smi") is not None:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        hardware = hardware or (done.returncode == 0 and "GPU" in done.stdout)
    if not hardware:
        return False, "no GPU"
    said = " ".join(str(w.message).split(".")[0] for w in caught if "CUDA" in str(w.message))
    build = f"torch {torch.__version__} built for CUDA {torch.version.cuda}"
    return (
        False,
        f"torch cannot use the GPU (driver too old?): {build}; {said or 'no reason given'}",
    )


def cpu_info() -> dict[str, Any]:
    """The CPU model, logical and physical cores, and the cores this process may use."""
    import cpuinfo  # py-cpuinfo: reads CPUID / the OS, on Linux, macOS and Windows alike
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "model": cpuinfo.get_cpu_info().get("brand_raw") or platform.processor(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),  # hyperthreads share one core's units
        "usable_cores": usable,  # what Slurm/cgroups actually give you: size num_workers by this
        "torch_threads": torch.get_num_threads(),
    }


def memory_gib() -> float:
    """Total RAM in GiB."""
    import psutil

    return round(psutil.virtual_memory().total / 2**30, 1)


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
                "peak_tflops_tf32": peak_tflops(p.name, "tf32"),
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
        f"cores           {cpu['logical_cores']} logical, {cpu['physical_cores']} physical, {cpu['usable_cores']} usable by this process",
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
            f"peak {g['peak_tflops_bf16']} TFLOP/s bf16, {g['peak_tflops_tf32']} tf32, {g['peak_tflops_fp32']} fp32"
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
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    args = parser.parse_args(argv)

    def body() -> None:
        info = collect()
        print(json.dumps(info, indent=2) if args.json else render(info))

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
