"""Which CPU kernels did the arithmetic: the fingerprint a run's last bits depend on.

The same code, seed and data give bitwise the same weights only on the same kernels. torch picks
its vectorised kernels from what the processor can do (the native capability), capped by
`ATEN_CPU_CAPABILITY`; MKL's matrix products follow `MKL_CBWR`, oneDNN's convolutions
`ONEDNN_MAX_CPU_ISA`; the CPU vendor and torch's version choose code paths too. A hash or a float
error size in the docs is shown for one such fingerprint: on that fingerprint a run reproduces it
exactly, elsewhere only within the stated tolerance.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

from scaling_multi_gpu import receipt

# What ATen asks of the processor for each capability (aten/src/ATen/native/DispatchStub.cpp).
NEEDS = {"AVX512": {"avx512vl", "avx512bw", "avx512dq", "fma"}, "AVX2": {"avx2", "fma"}}


def native_cpu_capability() -> str | None:
    """The capability torch picks when ATEN_CPU_CAPABILITY is not set; None where unknown."""
    if not os.environ.get("ATEN_CPU_CAPABILITY"):
        return torch.backends.cpu.get_cpu_capability()
    try:
        flags = re.search(r"^flags\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:  # macOS, Windows: not readable this way
        return None
    if flags is None or platform.machine() not in ("x86_64", "AMD64"):
        return None
    have = set(flags.group(1).split())
    return next((name for name, needed in NEEDS.items() if needed <= have), "DEFAULT")


def fingerprint() -> dict[str, str | None]:
    """The facts that decide which kernels run (threads: every run here uses 1 per process)."""
    env = receipt.env_info("cpu")
    return {
        "torch": env["torch"],
        "machine": env["machine"],
        "cpu_vendor": env["cpu_vendor"],
        "native": native_cpu_capability(),
        "aten": env["torch_cpu_capability"],
        "MKL_CBWR": env["MKL_CBWR"],
        "ONEDNN_MAX_CPU_ISA": env["ONEDNN_MAX_CPU_ISA"],
    }


def platform_label(fp: dict[str, str | None]) -> str:
    """What every row of a docs table shares, e.g. `torch 2.15.0+cu132, x86_64 AuthenticAMD`."""
    return f"torch {fp['torch']}, {fp['machine']} {fp['cpu_vendor'] or 'unknown vendor'}"


def kernel_label(fp: dict[str, str | None]) -> str:
    """One docs table row's kernels, e.g. `AVX512 / ATen AVX2 / MKL_CBWR unset`."""
    text = f"{fp['native'] or 'unknown'} / ATen {fp['aten']} / MKL_CBWR {fp['MKL_CBWR'] or 'unset'}"
    return text + (
        f" / ONEDNN_MAX_CPU_ISA {fp['ONEDNN_MAX_CPU_ISA']}" if fp["ONEDNN_MAX_CPU_ISA"] else ""
    )


def label(fp: dict[str, str | None]) -> str:
    return f"{platform_label(fp)}; {kernel_label(fp)}"


def differences(here: str, there: str) -> list[str]:
    """The fingerprint fields in which two labels differ, e.g. `ATen: AVX2 here, AVX512 there`."""
    names = [
        "torch",
        "machine and CPU vendor",
        "native capability",
        "ATen",
        "MKL_CBWR",
        "ONEDNN_MAX_CPU_ISA",
    ]

    def fields(text: str) -> list[str]:
        platform_part, _, kernel_part = text.partition("; ")
        parts = platform_part.split(", ", 1) + kernel_part.split(" / ")
        return (parts + ["ONEDNN_MAX_CPU_ISA unset"])[: len(names)]

    return [
        f"{name}: {a} here, {b} there"
        for name, a, b in zip(names, fields(here), fields(there), strict=True)
        if a != b
    ]
