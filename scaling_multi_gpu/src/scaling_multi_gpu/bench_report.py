"""scaling-bench's outputs: the Markdown table, the figure, and the GPU-count sweep table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scaling_multi_gpu.plumbing import BadInput, save_figure


def render_markdown(result: dict[str, Any]) -> str:
    head = (
        f"# scaling-bench: {result['model']} @ {result['image_size']} px, batch {result['batch']}, "
        f"{result['device_name']}\n\n{result['steps']} timed steps after {result['warmup']} warm-up; "
        f"{result['gflop_per_image']} GFLOP per image per training step; data: {result['data']}; "
        f"{result['workers']} loader workers.\n\n"
        "| row | images/s | ms/step median (p90) | compute-only ms | loader wait ms | TFLOP/s "
        "| MFU | MFU compute-only | peak mem MiB | x first row |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )

    def cell(v: Any, fmt: str = "{}") -> str:
        return "-" if v is None else fmt.format(v)

    lines = []
    for r in result["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['row']} | {r['status']} |" + " |" * 8)
            continue
        lines.append(
            f"| {r['row']} | {r['images_per_s']} | {r['step_ms_median']} ({r['step_ms_p90']}) "
            f"| {r['compute_ms_median']} | {r['loader_wait_ms_median']} | {r['achieved_tflops']} "
            f"| {cell(r['mfu'], '{:.1%}')} | {cell(r['mfu_compute_only'], '{:.1%}')} "
            f"| {r['peak_memory_mib']} | {cell(r['ratio_to_first'])} |"
        )
    note = "\nMFU '-' = no datasheet peak for this device (never guessed).\n"
    return head + "\n".join(lines) + "\n" + note


def plot(result: dict[str, Any], path: Path) -> None:
    """Left: images/s per row. Right: where a step's time goes (loader wait vs compute)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    names = [r["row"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.5 * len(rows) + 2), sharey=True)
    left.barh(names, [r["images_per_s"] or 0 for r in rows], color="tab:blue")
    for i, r in enumerate(rows):
        label = r["status"][:40] if r["status"] != "ok" else (
            f"MFU {r['mfu']:.1%}" if r["mfu"] is not None else "MFU n/a")  # fmt: skip
        left.text(r["images_per_s"] or 0, i, f" {label}", va="center", fontsize=8)
    left.set_xlabel("images/s (end-to-end)")
    left.invert_yaxis()
    wait = [r["loader_wait_ms_median"] or 0 for r in rows]
    right.barh(
        names, [r["compute_ms_median"] or 0 for r in rows], color="tab:green", label="compute"
    )
    right.barh(names, wait, left=[r["compute_ms_median"] or 0 for r in rows], color="tab:red",
               label="waiting for input")  # fmt: skip
    right.set_xlabel("ms per step (median)")
    right.legend(loc="lower right")
    fig.suptitle(f"{result['model']} @ {result['image_size']} px, batch {result['batch']}, "
                 f"{result['device_name']}")  # fmt: skip
    fig.tight_layout()
    save_figure(fig, path)


# The workshop's chart: "Training Time (s)" per GPU count, read off its bars. What that time
# covers is not stated: its scripts train 6 epochs, and which script made the 1-GPU point is
# unknown. Its RATIOS (speed-up, efficiency) do not depend on the unit; compare only those.
WORKSHOP_CHART_SECONDS = {1: 210, 2: 115, 4: 60, 8: 40}
EPOCH = 50_000  # CIFAR-100 training images


def read_sweep(folder: Path) -> dict[int, float]:
    """images/s per GPU count from <folder>/gpus-<N>/run.json; anything else is bad input."""
    runs = {}
    for path in sorted(folder.glob("gpus-*/run.json")):
        count = path.parent.name.removeprefix("gpus-")
        if not count.isdigit() or int(count) < 1:
            raise BadInput(f"{path.parent}: expected a folder named gpus-<N>, N >= 1")
        try:
            run = json.loads(path.read_bytes())
            speed = {**run["metrics"], **run.get("measurements", {})}["samples_per_s"]
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"{path} is not a readable receipt (truncated?): {exc}") from None
        except (KeyError, TypeError):
            raise BadInput(f"{path} has no samples_per_s: not a scaling-train receipt") from None
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
            raise BadInput(f"{path}: samples_per_s is {speed!r}, not a positive number")
        runs[int(count)] = float(speed)
    if 1 not in runs:
        raise BadInput(f"no {folder}/gpus-1/run.json: the sweep needs the 1-GPU run")
    return runs


def sweep_table(folder: Path) -> str:
    """Efficiency table for scripts/gpu_sweep.sbatch: <folder>/gpus-<N>/run.json for each N."""
    runs = read_sweep(folder)
    lines = [
        "| GPUs | images/s | epoch s | efficiency | workshop chart s | workshop efficiency |",
        "|---|---|---|---|---|---|",
    ]
    for n, speed in sorted(runs.items()):
        chart = WORKSHOP_CHART_SECONDS.get(n)
        theirs = f"{WORKSHOP_CHART_SECONDS[1] / (n * chart):.0%}" if chart else "-"
        lines.append(
            f"| {n} | {speed:g} | {EPOCH / speed:.0f} | {speed / (n * runs[1]):.0%} "
            f"| {chart or '-'} | {theirs} |"
        )
    return "\n".join(lines) + "\n"
