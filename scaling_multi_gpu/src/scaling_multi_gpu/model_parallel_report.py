"""Reporting for `scaling-model-parallel`: comparison rows, receipts, summary.json, table, figure.

The lesson is in model_parallel.py; this is what turns its gathered weights into evidence.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch.distributed.tensor import DTensor

from scaling_multi_gpu import receipt
from scaling_multi_gpu.plumbing import BadInput, save_figure

FIGURE = "model_parallel.png"


def compare(
    variant: Any,
    state: dict[str, torch.Tensor],
    reference: dict[str, torch.Tensor],
    cfg: Any,
    step_times: list[float],
    started: float,
    layouts: list[dict[str, Any]],
) -> dict[str, Any]:
    """One row of summary.json: how far this variant's full weights are from one process."""
    diff = max((state[k] - reference[k]).abs().max().item() for k in reference)
    sha = receipt.weights_sha256(state)
    return {
        "variant": variant.name,
        "kind": variant.kind,
        "world_size": 1 if variant.kind == "single" else len(layouts),
        "micro_batches": variant.micro_batches,
        "weights_sha256": sha,
        "bitwise_equal_to_single": sha == receipt.weights_sha256(reference),
        "max_abs_diff_vs_single": diff,
        "step_time_s": round(statistics.median(step_times[2:] or step_times), 5),
        "seconds": round(time.time() - started, 3),
        "full_parameters": sum(v.numel() for v in state.values()),
        "ranks": layouts if variant.kind != "single" else layouts[:1],
    }


def verdict(row: dict[str, Any], tolerance: float) -> str:
    if row["kind"] == "single":
        return "reference"
    return "ok" if row["max_abs_diff_vs_single"] <= tolerance else "FAIL"


def save_run(
    out: Path,
    row: dict[str, Any],
    state: dict[str, torch.Tensor],
    config: dict[str, Any],
    data_sha: str,
    started: float,
    command: list[str],
) -> None:
    """model.safetensors + run.json for one variant, in out/<variant>/ (weights first: run.json
    names them)."""
    folder = out / row["variant"]
    receipt.atomic_write(folder / "model.safetensors", lambda tmp: save_file(state, str(tmp)))
    metrics = {k: row[k] for k in ("world_size", "max_abs_diff_vs_single")}
    receipt.write_run_json(
        folder,
        seed=config["seed"],
        config={**config, "variant": row["variant"], "micro_batches": row["micro_batches"],
                "world_size": row["world_size"], "torch_threads": torch.get_num_threads()},
        metrics={**metrics, "test_accuracy": row["test_accuracy"]},
        measurements={"step_time_s": row["step_time_s"]},  # the machine's speed: reported, not judged
        weights_sha256=row["weights_sha256"],
        data_sha256=data_sha,
        started=started,
        command=command,
        weights_file=folder / "model.safetensors",
        out_root=out,
    )  # fmt: skip


def write_summary(
    out: Path, rows: list[dict[str, Any]], bubble: list[dict[str, Any]], tolerance: float
) -> None:
    for row in rows:
        row["verdict"] = verdict(row, tolerance)
    receipt.write_json_atomic(
        out / "summary.json", {"tolerance": tolerance, "variants": rows, "pipeline_bubble": bubble}
    )
    plot(rows, bubble, tolerance, out / FIGURE)


def progress_line(row: dict[str, Any]) -> str:
    return f"trained {row['variant']:<12} in {row['seconds']:.1f} s"


def render(rows: list[dict[str, Any]], bubble: list[dict[str, Any]], tolerance: float) -> str:
    lines = [
        f"{'variant':<12} {'world':>5} {'m':>3}  {'weights':<12} {'= single':<8} "
        f"{'max|Δw| vs single':>17}  {'acc':>5}  {'step ms':>7}  verdict",
    ]
    for r in rows:
        m = r["micro_batches"] or "-"
        lines.append(
            f"{r['variant']:<12} {r['world_size']:>5} {m:>3}  {r['weights_sha256'][:12]} "
            f"{'yes' if r['bitwise_equal_to_single'] else 'no':<8} {r['max_abs_diff_vs_single']:>17.2e}"
            f"  {r['test_accuracy']:>5.3f}  {r['step_time_s'] * 1e3:>7.2f}  {verdict(r, tolerance)}"
        )
    lines.append(f"tolerance {tolerance:g}")
    lines.append("pipeline bubble, 2 stages: counted from the order each stage ran (any machine),")
    lines.append("measured with the clock (this machine, now: a benchmark, noisy under load)")
    for b in bubble:
        lines.append(
            f"  {b['schedule']:<6} m={b['micro_batches']:<2} counted {b['counted']:>4}  "
            f"measured {b['measured']:.3f}  (p-1)/(m+p-1) = {b['theory']:.3f}"
        )
    for b in bubble:
        if b["micro_batches"] == 4:  # what each schedule did, stage by stage
            for stage, order in enumerate(b["order_per_stage"]):
                lines.append(f"  {b['schedule']:<6} m=4 stage {stage} ran: {order}")
    return "\n".join(lines)


def plot(
    rows: list[dict[str, Any]], bubble: list[dict[str, Any]], tolerance: float, path: Path
) -> None:
    """Left: max |Δw| vs one process (log). Right: measured pipeline bubble vs (p-1)/(m+p-1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    shown = [r for r in rows if r["kind"] != "single"]
    values = [max(r["max_abs_diff_vs_single"], 1e-12) for r in shown]  # 0 cannot go on a log axis
    colors = ["tab:green" if verdict(r, tolerance) == "ok" else "tab:red" for r in shown]
    bars = left.bar([r["variant"] for r in shown], values, color=colors)
    for bar, r in zip(bars, shown, strict=True):  # same |Δw|, yet every one its own weights
        left.annotate(r["weights_sha256"][:8], (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8, family="monospace")  # fmt: skip
    left.set_ylim(1e-10, 1e-4)
    left.axhline(tolerance, color="black", linestyle="--", label=f"tolerance {tolerance:g}")
    left.set_yscale("log")
    left.set_ylabel("max |w - w(1 process)|")
    left.set_title("2 gloo processes vs 1 (labels: weights_sha256)")
    left.legend()
    left.tick_params(axis="x", rotation=20)
    for schedule, marker in (("gpipe", "o"), ("1f1b", "s")):
        pts = [b for b in bubble if b["schedule"] == schedule]
        right.plot([b["micro_batches"] for b in pts], [b["measured"] for b in pts], marker=marker,
                   label=f"measured, {schedule}")  # fmt: skip
    ms = sorted({b["micro_batches"] for b in bubble})
    right.plot(ms, [b["theory"] for b in bubble if b["schedule"] == "gpipe"], "k--",
               label="(p-1)/(m+p-1)")  # fmt: skip
    right.set_xscale("log", base=2)
    right.set_xticks(ms, [str(m) for m in ms])
    right.set_xlabel("micro-batches m (p = 2 stages)")
    right.set_ylabel("idle fraction of a step")
    load = (
        f"load {os.getloadavg()[0]:.1f} on " if hasattr(os, "getloadavg") else ""
    )  # not on Windows
    right.set_title(f"pipeline bubble ({load}{os.cpu_count()} cores: measured is noisy)")
    right.legend()
    fig.tight_layout()
    save_figure(fig, path)


def copy_figure(out: Path, target: Path) -> None:
    receipt.atomic_write(target, (out / FIGURE).read_bytes())


def parse_variants(
    spec: str, micro_batches: int, batch: int, kinds: tuple[str, ...], world: int
) -> list[Any]:
    """`tp,pp-gpipe,pp-1f1b:8` -> Variants (`:M` = that variant's micro-batch count); every mistake is caught here, before any process starts."""
    from scaling_multi_gpu import model_parallel as mp

    variants = []
    for token in filter(None, (t.strip() for t in spec.split(","))):
        kind, _, m_text = token.partition(":")
        if kind not in kinds:
            raise BadInput(f"unknown variant {kind!r} (choose from {', '.join(kinds)})")
        m = int(m_text) if m_text.isdigit() else micro_batches
        if m_text and not m_text.isdigit():
            raise BadInput(f"micro-batch count in {token!r} must be a whole number")
        if kind == "tp":
            variants.append(mp.Variant("tp", "tp"))
            continue
        if m < 1 or batch % m:
            raise BadInput(
                f"{token}: {m} micro-batches must be at least 1 and divide the batch ({batch})"
            )
        if kind == "pp-1f1b" and m < world:
            raise BadInput(
                f"{token}: 1F1B needs at least as many micro-batches as stages ({world})"
            )
        variants.append(mp.Variant(f"{kind}-m{m}" if m_text else kind, kind, m))
    names = [v.name for v in variants]
    if not names or len(set(names)) != len(names):
        raise BadInput(f"--variants must name each variant once, got {spec!r}")
    return variants


def local_layout(model: torch.nn.Module) -> dict[str, Any]:
    """What THIS rank holds: its layers, its parameter count, each tensor's local shape."""
    local = {
        k: v.to_local() if isinstance(v, DTensor) else v for k, v in model.state_dict().items()
    }
    return {
        "layers": list(dict.fromkeys(k.split(".")[0] for k in local)),
        "parameters": sum(v.numel() for v in local.values()),
        "shapes": {k: list(v.shape) for k, v in local.items()},
    }


def accuracy(build_model: Any, state: dict[str, torch.Tensor], cfg: Any, test_set: Any) -> float:
    model = build_model(cfg)
    model.load_state_dict(state)
    x, y = test_set.tensors
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def launch(argv: list[str], world: int) -> int:
    """`python -m torch.distributed.run` = torchrun with this interpreter; rank 0's lines stream."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}",
           "-m", "scaling_multi_gpu.model_parallel", *argv, "--worker"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        print(
            f"error: the torchrun launch failed (exit {done.returncode}); its last lines:\n{tail}",
            file=sys.stderr,
        )
        return 1
    # A benchmark line, not a check: wall time follows the machine and what else runs on it.
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"finished in {time.perf_counter() - started:.1f} s ({os.cpu_count()} cores{load})")
    return 0
