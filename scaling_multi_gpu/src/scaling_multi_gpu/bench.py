"""One GPU, the same training step, seven settings: how far the workshop's ResNet-152 run could go.

The workshop timed ResNet-152 on CIFAR-100 resized to 224 px: fp32, batch 128, SGD (lr 0.01,
momentum 0.9), images resized with PIL on the CPU. Its scripts never touched TF32, so PyTorch's
defaults applied (cuDNN convolutions in TF32, matmuls not), and its single-GPU script's loader had
no workers (only the dp/ddp scripts used 7). `original-as-run` re-runs that step as faithfully as
offline allows; `fp32-strict` turns TF32 off everywhere and loads in `--workers` processes; each
next row changes ONE thing and keeps the rest. Ratios are against `original-as-run`:

  original-as-run -> fp32-strict -> tf32 -> bf16 (autocast) -> +channels_last -> +torch.compile
  -> +gpu_input

Each row runs `--warmup` untimed steps (torch.compile compiles there) and `--steps` timed ones.
Two clocks per step: *end-to-end* (waiting for the loader included: what a training run gets) and
*compute-only* (forward, backward, optimizer step on a batch already on the device). When the
first is much larger, the input pipeline - not the GPU - is the limit. MFU = model FLOPs per
second (flops.py) / the datasheet peak of the math mode the row really uses (hwinfo.py).

Every row sets cudnn.benchmark = True (the autotuner; deterministic training turns it off): it
can only make `original-as-run` faster, so the ratios to it are conservative. On a CPU the `tf32`
row is "n/a" - TF32 is a GPU tensor-core mode; on a CPU it would repeat `fp32-strict`.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from scaling_multi_gpu import receipt
from scaling_multi_gpu.bench_data import cifar_shaped_images, cpu_batches, device_batches
from scaling_multi_gpu.bench_report import plot, render_markdown, sweep_table
from scaling_multi_gpu.flops import achieved_tflops, mfu, train_flops_per_sample
from scaling_multi_gpu.hwinfo import cuda_status, math_mode, peak_tflops, tf32_flags
from scaling_multi_gpu.measure import peak_memory_mib, sync  # CPU: the process's peak so far
from scaling_multi_gpu.models import build_model
from scaling_multi_gpu.plumbing import BadInput, OneLineParser, check_out, run_at_edge, seed_int
from scaling_multi_gpu.profile_lab import NO_PROFILER, WARMUP, check_profile_steps, step_profiler
from scaling_multi_gpu.receipt import atomic_write

# What PyTorch allows TF32 to do when nobody sets it (read at import, before any row changes it).
PYTORCH_TF32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)


@dataclass(frozen=True)
class Row:
    key: str  # what --rows selects
    name: str  # what the table shows
    tf32: bool | None = False  # None: PyTorch's defaults, as a script that never sets it gets
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    gpu_input: bool = False
    no_workers: bool = False  # the loader in the main process, as in the workshop's single_gpu.py


LADDER = [
    Row("original-as-run", "original-as-run", tf32=None, no_workers=True),
    Row("fp32-strict", "fp32-strict"),
    Row("tf32", "tf32", tf32=True),
    Row("bf16", "bf16", tf32=True, bf16=True),
    Row("channels_last", "bf16+channels_last", True, True, channels_last=True),
    Row("compile", "bf16+channels_last+compile", True, True, True, compile=True),
    Row(
        "gpu_input", "bf16+channels_last+compile+gpu_input", True, True, True, True, gpu_input=True
    ),
]


# --------------------------------------------------------------------------- one row
def run_row(row: Row, args, device: torch.device, data, flops_per_image: float, prof=NO_PROFILER) -> dict[str, Any]:  # fmt: skip
    """Train `warmup + steps` steps in this row's setting; return its timings and MFU."""
    matmul_tf32, cudnn_tf32 = PYTORCH_TF32 if row.tf32 is None else (row.tf32, row.tf32)
    torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
    torch.backends.cudnn.allow_tf32 = cudnn_tf32
    torch.backends.cudnn.benchmark = True
    model = build_model(args.model, 100, args.image_size, args.seed).to(device)
    memory_format = torch.channels_last if row.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step_fn = torch.compile(model) if row.compile else model
    workers = 0 if row.no_workers else args.workers
    batches = (device_batches if row.gpu_input else cpu_batches)(
        *data, args, device, args.seed, workers
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    e2e, compute, wait = [], [], []
    for step in range(args.warmup + args.steps):
        sync(device)
        t0 = time.perf_counter()
        x, y = next(batches)  # waits for the loader (or does the device-side resize)
        x = x.contiguous(memory_format=memory_format)
        sync(device)
        t1 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=row.bf16):
            loss = F.cross_entropy(step_fn(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync(device)
        t2 = time.perf_counter()
        if step >= args.warmup:
            e2e.append(t2 - t0), compute.append(t2 - t1), wait.append(t1 - t0)
        prof.step()  # --profile: the schedule counts steps (profile_lab.py)
    batches.close()  # stops the workers

    # A ResNet's FLOPs are convolutions: the cuDNN flag decides its math mode.
    mode = math_mode("bf16" if row.bf16 else "fp32", cudnn_tf32)
    peak = peak_tflops(torch.cuda.get_device_name(device), mode) if device.type == "cuda" else None
    images_per_s = args.batch / statistics.median(e2e)
    compute_images_per_s = args.batch / statistics.median(compute)
    return {
        "images_per_s": round(images_per_s, 1),
        "images_per_s_compute_only": round(compute_images_per_s, 1),
        "step_ms_median": round(1e3 * statistics.median(e2e), 2),
        "step_ms_p90": round(1e3 * percentile(e2e, 90), 2),
        "compute_ms_median": round(1e3 * statistics.median(compute), 2),
        "compute_ms_p90": round(1e3 * percentile(compute, 90), 2),
        "loader_wait_ms_median": round(1e3 * statistics.median(wait), 2),
        "math_mode": mode,
        "workers": workers,
        "allow_tf32": tf32_flags(),
        "peak_tflops": peak,
        "achieved_tflops": rounded(achieved_tflops(flops_per_image, images_per_s)),
        "mfu": rounded(mfu(achieved_tflops(flops_per_image, images_per_s), peak)),
        "mfu_compute_only": rounded(
            mfu(achieved_tflops(flops_per_image, compute_images_per_s), peak)
        ),
        "peak_memory_mib": round(peak_memory_mib(device), 1),
        "final_loss": round(loss.item(), 4),
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def rounded(value: float | None) -> float | None:
    """Four significant digits (a CPU's TFLOP/s is 0.000x); None stays None."""
    return float(f"{value:.4g}") if value is not None else None


# --------------------------------------------------------------------------- the ladder
def not_applicable(row: Row, device: torch.device, cpu_compile: bool) -> str | None:
    """Why a row is not measured on this device (it still appears in the table), or None."""
    if device.type == "cuda":
        return None
    if row.tf32 and not row.bf16:
        return "TF32 is a GPU tensor-core mode; on a CPU this row = fp32-strict"
    if row.compile and not cpu_compile:
        return "torch.compile builds C++ for minutes on a CPU; --cpu-compile measures it"
    return None


NUMBERS = ("workers", "images_per_s", "images_per_s_compute_only", "step_ms_median", "step_ms_p90",
           "compute_ms_median", "compute_ms_p90", "loader_wait_ms_median", "math_mode",
           "allow_tf32", "peak_tflops", "achieved_tflops", "mfu", "mfu_compute_only",
           "peak_memory_mib", "final_loss")  # fmt: skip


def bench(args, device: torch.device) -> dict[str, Any]:
    """Run the chosen rows; after each one, bench.json and bench.md are rewritten (atomically),
    so a run stopped by a time limit still leaves every finished row."""
    images, labels, source = cifar_shaped_images(args.batch * (args.warmup + args.steps), args.seed)
    with torch.device("meta"):  # no weights are initialised just to count FLOPs
        meta_model = build_model(args.model, 100, args.image_size, args.seed)
    flops_per_image = train_flops_per_sample(meta_model, (3, args.image_size, args.image_size))
    rows = [r for r in LADDER if r.key in args.rows]
    result = {
        "model": args.model,
        "image_size": args.image_size,
        "batch": args.batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "workers": args.workers,
        "torch_threads": torch.get_num_threads(),
        "seed": args.seed,
        "data": source,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "gflop_per_image": round(flops_per_image / 1e9, 4),
        "flops_counted": "FlopCounterMode, forward + backward, meta device, batch 2, train mode",
        "env": receipt.env_info(device.type),
        "rows": [
            {"row": r.name, **asdict(r), **dict.fromkeys(NUMBERS), "status": "not run yet"}
            for r in rows
        ],  # fmt: skip
    }
    for i, row in enumerate(tqdm(rows, desc="rows", leave=False)):
        entry: dict[str, Any] = {"row": row.name, **asdict(row), "status": "ok"}
        skip = not_applicable(row, device, args.cpu_compile)
        if skip:
            entry = {**entry, **dict.fromkeys(NUMBERS), "status": f"n/a: {skip}"}
        else:
            try:
                with profiler(args, row) as prof:  # --profile DIR: DIR/<row>/rank0.*.pt.trace.json
                    entry.update(
                        run_row(row, args, device, (images, labels), flops_per_image, prof)
                    )
            except Exception as exc:  # one row failing (e.g. compile without a compiler) is data
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                entry = {**entry, **dict.fromkeys(NUMBERS), "status": f"error: {first[:300]}"}
        result["rows"][i] = entry
        ratios(result["rows"])
        write_tables(args.out, result)
    return result


def profiler(args, row: Row):
    """The row's profiler: its first kept step is the first timed one (warm-up steps skipped)."""
    out = args.profile / row.key if args.profile else None
    return step_profiler(out, 0, args.warmup + args.steps, wait=max(args.warmup - WARMUP, 0))


def ratios(rows: list[dict[str, Any]]) -> None:
    first = next((r["images_per_s"] for r in rows if r["images_per_s"]), None)
    for r in rows:
        r["ratio_to_first"] = round(r["images_per_s"] / first, 2) if r["images_per_s"] else None


def write_tables(out: Path, result: dict[str, Any]) -> None:
    atomic_write(out / "bench.md", render_markdown(result))
    receipt.write_json_atomic(out / "bench.json", result)


# --------------------------------------------------------------------------- command line
def build_parser() -> OneLineParser:
    p = OneLineParser(description=__doc__.splitlines()[0])
    # fmt: off
    p.add_argument("--model", choices=("small", "resnet152"), default="resnet152")
    p.add_argument("--image-size", type=int, default=None, help="default 224 (resnet152), 32 (small)")
    p.add_argument("--batch", type=int, default=None, help="default 128 (resnet152), 32 (small)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per row")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (compilation); default 5 (resnet152), 2 (small)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers of every row but original-as-run (default 7 = the workshop's dp/ddp scripts, at most the free cores)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    p.add_argument("--rows", default=",".join(r.key for r in LADDER), help="comma-separated subset of the ladder")
    p.add_argument("--cpu-compile", action="store_true", help="also measure the compile rows on a CPU")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--out", type=Path, default=Path("outputs/bench"))
    p.add_argument("--profile", type=Path, default=None, metavar="DIR", help="torch.profiler trace of each row's first timed steps into DIR/<row>/ (read it with scaling-profile-report DIR)")
    p.add_argument("--sweep-table", type=Path, default=None, help="only write DIR/sweep.md from DIR/gpus-N/run.json (gpu_sweep.sbatch)")
    # fmt: on
    return p


def resolve(args) -> None:
    """Fill the model-dependent defaults and refuse impossible values, before any work."""
    big = args.model == "resnet152"
    args.image_size = (224 if big else 32) if args.image_size is None else args.image_size
    args.batch = (128 if big else 32) if args.batch is None else args.batch
    args.warmup = (5 if big else 2) if args.warmup is None else args.warmup
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(args.rows) - {r.key for r in LADDER}
    if unknown or not args.rows:
        raise BadInput(f"unknown --rows {sorted(unknown)} (choose from {', '.join(r.key for r in LADDER)})")  # fmt: skip
    if args.steps < 1 or args.warmup < 0 or args.batch < 2 or args.image_size < 8:
        raise BadInput("--steps >= 1, --warmup >= 0, --batch >= 2, --image-size >= 8")
    if args.workers is not None and args.workers < 0:
        raise BadInput("--workers must be 0 or more")
    if args.device == "cuda":
        usable, why = cuda_status()
        if not usable:
            raise BadInput(f"--device cuda: {why} (use --device cpu for a CPU run)")
    check_out(args.out)
    if check_out(args.profile, "--profile"):
        check_profile_steps(args.warmup + args.steps, wait=max(args.warmup - WARMUP, 0))
    usable_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    args.workers = min(7, max(usable_cores - 1, 0)) if args.workers is None else args.workers


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        if args.sweep_table is not None:
            table = sweep_table(args.sweep_table)
            atomic_write(args.sweep_table / "sweep.md", table)
            print(table)
            return
        resolve(args)
        device = torch.device(args.device)
        if device.type == "cpu":
            # One intra-op thread, like each torchrun worker: on a shared machine, OpenMP threads
            # spin-waiting for busy cores made a step 60x slower here (1 s instead of 16 ms).
            torch.set_num_threads(1)
        result = bench(args, device)
        plot(result, args.out / "bench.png")
        print(render_markdown(result))
        print(f"wrote {args.out}/bench.json, bench.md, bench.png")

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
