"""Scaling on paper: how much memory per GPU for DDP and ZeRO-1/2/3, before renting any GPU.

The ZeRO paper (Rajbhandari et al., 2020, section 3.1) counts mixed-precision Adam as 2 bytes of
fp16 parameters + 2 bytes of fp16 gradients + K = 12 bytes of optimizer state (fp32 master copy,
momentum, variance) per parameter. DDP keeps all of it on every GPU; ZeRO partitions over N GPUs:
stage 1 the optimizer state, stage 2 also the gradients, stage 3 also the parameters.
Activations, buffers and fragmentation come on top - this is the floor, not the total.

Communication (section 7 of the paper): DDP's all-reduce of the gradients is a reduce-scatter plus
an all-gather, Ψ each (Ψ = the parameter count). ZeRO-1 and -2 move the SAME volume: a
reduce-scatter of the gradients, an all-gather of the updated parameters. ZeRO-3 gathers each
layer's parameters again in the backward pass: 3Ψ, 1.5x DDP, plus the latency of one gather per
layer before it can compute. So only ZeRO-3 pays for its memory with more communication.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from scaling_multi_gpu.plumbing import (
    BadInput,
    OneLineParser,
    check_out,
    finite_float,
    run_at_edge,
    save_figure,
)

PARAM_BYTES = 2  # fp16/bf16 parameters
GRAD_BYTES = 2  # fp16/bf16 gradients
ADAM_STATE_BYTES = 12  # fp32 master weights + momentum + variance (K in the paper)
# Collective volume per step in units of Ψ: (reduce-scatter, all-gather) passes over all parameters.
COMM_PASSES = {0: 2, 1: 2, 2: 2, 3: 3}  # DDP = ZeRO-1 = ZeRO-2 = 2Ψ; ZeRO-3 = 3Ψ


@dataclass(frozen=True)
class Estimate:
    strategy: str
    gb_per_gpu: float
    fits: bool
    comm_gb_per_gpu: float  # sent by each GPU per optimizer step


def model_state_gb(params: float, gpus: int, stage: int, k: float = ADAM_STATE_BYTES) -> float:
    """Model-state memory per GPU in GB (1e9 bytes, as in the paper). stage 0 = plain DDP."""
    p, g, o = PARAM_BYTES * params, GRAD_BYTES * params, k * params
    if stage >= 1:
        o /= gpus
    if stage >= 2:
        g /= gpus
    if stage >= 3:
        p /= gpus
    return (p + g + o) / 1e9


def comm_gb(params: float, gpus: int, stage: int) -> float:
    """GB each GPU sends per step: ring collectives send (N-1)/N of the data per pass, in fp16."""
    return COMM_PASSES[stage] * (gpus - 1) / gpus * GRAD_BYTES * params / 1e9


def estimate(
    params: float, gpus: int, gpu_memory_gb: float, headroom: float = 0.8
) -> list[Estimate]:
    """Per strategy: GB per GPU and whether it fits in `headroom` of the GPU (activations need the rest)."""
    # `not x > 0`, never `x <= 0`: NaN passes the second and would say 'nothing fits'.
    if not params > 0 or gpus < 1 or not gpu_memory_gb > 0 or not 0 < headroom <= 1:
        raise BadInput("--params, --gpus and --gpu-memory must be positive, --headroom in (0, 1]")
    names = ["DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3"]
    out = []
    for stage, name in enumerate(names):
        gb = model_state_gb(params, gpus, stage)
        fits = gb <= headroom * gpu_memory_gb
        out.append(Estimate(name, gb, fits, comm_gb(params, gpus, stage)))
    return out


def advice(estimates: list[Estimate]) -> str:
    """The decision guide's first rows: the least partitioning that fits. ZeRO-1/2 send what DDP
    sends; only ZeRO-3 adds communication (1.5x, and a gather before every layer)."""
    for e in estimates:
        if e.fits and e.strategy == "ZeRO-3":
            return "use ZeRO-3: the only one that fits; it sends 1.5x DDP's volume and gathers each layer first"
        if e.fits:
            return f"use {e.strategy}: the least partitioning that fits (same communication volume as DDP)"
    return "nothing fits: add GPUs, offload (ZeRO-Infinity), or split layers (tensor/pipeline parallel)"


def parse_count(text: str) -> float:
    """'7.5e9', '7.5B', '350M' -> a number."""
    units = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
    text = text.strip().upper()
    try:
        count = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        count = math.nan
    if not math.isfinite(count):
        raise BadInput(f"cannot read a parameter count from {text!r} (e.g. 7.5B or 7.5e9)")
    return count


def render(params: float, gpus: int, gpu_memory_gb: float, estimates: list[Estimate]) -> str:
    lines = [
        f"{params / 1e9:g}B parameters, {gpus} GPUs with {gpu_memory_gb:g} GB, mixed-precision Adam (2+2+12 bytes/parameter)",
        f"{'strategy':<8} {'GB/GPU':>8}  fits  {'sent GB/GPU/step':>16}  x DDP",
    ]
    ddp = estimates[0].comm_gb_per_gpu or 1.0  # 1 GPU sends nothing: avoid 0/0
    lines += [
        f"{e.strategy:<8} {e.gb_per_gpu:>8.1f}  {'yes' if e.fits else 'no ':<4}  "
        f"{e.comm_gb_per_gpu:>16.1f}  {e.comm_gb_per_gpu / ddp:.1f}"
        for e in estimates
    ]
    lines.append(advice(estimates))
    return "\n".join(lines)


def plot(
    params: float, gpus: int, gpu_memory_gb: float, estimates: list[Estimate], path: Path
) -> None:
    """Bars of GB per GPU per strategy against the GPU's memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    colors = ["tab:green" if e.fits else "tab:red" for e in estimates]
    bars = ax.bar([e.strategy for e in estimates], [e.gb_per_gpu for e in estimates], color=colors)
    ax.bar_label(bars, fmt="%.1f GB")
    ax.axhline(
        gpu_memory_gb, color="black", linestyle="--", label=f"GPU memory {gpu_memory_gb:g} GB"
    )
    ax.set_ylabel("model states per GPU (GB)")
    ax.set_title(f"{params / 1e9:g}B parameters, mixed-precision Adam, {gpus} GPUs")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="7.5B", help="model parameters, e.g. 7.5B, 350M, 1.3e9")
    p.add_argument("--gpus", type=int, default=64, help="data-parallel world size")
    p.add_argument(
        "--gpu-memory",
        type=finite_float,
        default=80.0,
        help="GB per GPU (A100/H100: 80, H200: 141)",
    )
    p.add_argument(
        "--headroom",
        type=finite_float,
        default=0.8,
        help="fraction of GPU memory model states may use",
    )
    p.add_argument("--figure", type=Path, default=None, help="also draw the estimate (PNG)")
    args = p.parse_args(argv)

    def body() -> None:
        check_out(args.figure, "--figure", kind="png")
        params = parse_count(args.params)
        estimates = estimate(params, args.gpus, args.gpu_memory, args.headroom)
        print(render(params, args.gpus, args.gpu_memory, estimates))
        if args.figure:
            plot(params, args.gpus, args.gpu_memory, estimates, args.figure)

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
