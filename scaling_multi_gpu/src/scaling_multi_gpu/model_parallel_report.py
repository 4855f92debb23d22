"""Reporting for `scaling-model-parallel`: comparison rows, receipts, summary.json, table, figure.

The lesson is in model_parallel.py; this is what turns its gathered weights into evidence.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from scaling_multi_gpu import receipt
from scaling_multi_gpu.plots import save_figure

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
    """weights.pt + run.json for one variant, in out/<variant>/ (weights first: run.json names them)."""
    folder = out / row["variant"]
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".weights.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, folder / "weights.pt")
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
        weights_file=folder / "weights.pt",
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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(out / FIGURE, tmp)
    os.replace(tmp, target)
