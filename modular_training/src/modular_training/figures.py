"""Make the figures the slides show (figures/*.png), from real runs of this package.

Run:  uv run mt-figures          (about a minute; rewrites figures/ in the topic folder)
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from modular_training.data import load_splits
from modular_training.plots import save_figure
from modular_training.plumbing import BadInput, OneLineParser, check_out, quiet_known_warnings
from modular_training.receipt import TOPIC_ROOT, atomic_write
from modular_training.resume import ablation
from modular_training.step2_modular import Config, evaluate, fit
from modular_training.step3_cli import train

GREEN, RED = "#4caf50", "#e57373"
ResumeTable = dict[tuple[str, int], dict[str, str]]


def draw_resume_grid(table: ResumeTable) -> plt.Figure:
    """A grid: one row per (setup, workers), one column per way of stopping; green = identical
    final weights to the uninterrupted run, red = different. Each cell shows the hash's start."""
    rows = list(table)
    columns = [c for c in next(iter(table.values())) if c != "uninterrupted"]
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.42 * len(rows)))
    for i, row in enumerate(rows):
        reference = table[row]["uninterrupted"]
        for j, column in enumerate(columns):
            same = table[row][column] == reference
            ax.add_patch(plt.Rectangle((j, i), 0.95, 0.9, color=GREEN if same else RED))
            label = "identical" if same else "different"
            ax.text(
                j + 0.47, i + 0.45, f"{label} {table[row][column][:8]}", ha="center", va="center"
            )
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.47 for j in range(len(columns))], [f"resumed {c}" for c in columns])
    ax.set_yticks(
        [i + 0.45 for i in range(len(rows))], [f"{name}, {w} workers" for name, w in rows]
    )
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title("final weights vs. an uninterrupted run (weights_sha256)")
    fig.tight_layout()
    return fig


def resume_figure(table: ResumeTable, path: Path) -> Path:
    return save_figure(draw_resume_grid(table), path)


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval for an accuracy measured on n test images (Wilson score interval)."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def seed_figure(correct: dict[int, int], n: int, path: Path) -> Path:
    """Test accuracy per training seed with its 95% interval from n test images: the spread across
    seeds is of the same size as the test set's own uncertainty, so report both, not the best seed."""
    fig, ax = plt.subplots(figsize=(6.5, 3))
    seeds = list(correct)
    accuracy = [correct[s] / n for s in seeds]
    intervals = [wilson_interval(correct[s], n) for s in seeds]
    errors = [
        [a - lo for a, (lo, _) in zip(accuracy, intervals, strict=True)],
        [hi - a for a, (_, hi) in zip(accuracy, intervals, strict=True)],
    ]
    ax.errorbar([str(s) for s in seeds], accuracy, yerr=errors, fmt="o", color="#5c6bc0", capsize=4)
    ax.set_ylim(0.9, 1.0)
    ax.set_xlabel("training seed (same split, same test set)")
    ax.set_ylabel(f"test accuracy (n = {n})")
    spread = max(correct.values()) - min(correct.values())
    ax.set_title(
        f"step 2, 20 epochs: seeds differ by {spread} of {n} test images\n(bars: 95% interval)"
    )
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="mt-figures", description="Regenerate the slide figures.")
    parser.add_argument("--out", type=Path, default=TOPIC_ROOT / "figures")
    args = parser.parse_args(argv)
    try:  # before a minute of training, not after
        check_out(args.out)
    except BadInput as exc:
        parser.error(str(exc))
    quiet_known_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        summary = train(
            [f"--out={root / 'headline'}", "--trainer.enable_progress_bar=false"], verbose=False
        )
        atomic_write(
            args.out / "training_curve.png", (summary["out"] / "training_curve.png").read_bytes()
        )
        resume_figure(ablation(root, workers=[0, 2]), args.out / "resume.png")
    splits = load_splits()
    correct = {}
    for seed in range(5):
        model, _ = fit(Config(seed=seed), splits, verbose=False)
        correct[seed] = round(evaluate(model, splits.x_test, splits.y_test)[1] * len(splits.y_test))
    seed_figure(correct, len(splits.y_test), args.out / "seeds.png")
    print(f"wrote {args.out}/training_curve.png, resume.png, seeds.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
