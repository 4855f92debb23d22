"""Make the figures the slides show (figures/*.png), from real runs of this package.

Run:  uv run mt-figures          (about a minute; rewrites figures/ in the topic folder)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from modular_training.data import load_splits
from modular_training.plots import save_figure
from modular_training.receipt import TOPIC_ROOT
from modular_training.resume import FIXED, NAIVE, NO_21938_WORKAROUND, compare
from modular_training.step2_modular import Config, evaluate, fit
from modular_training.step3_lightning import quiet_known_warnings, run


def resume_figure(results: dict[str, dict[str, str]], path: Path) -> Path:
    """A grid: one row per setup, one column per way of stopping; green = same final weights."""
    setups = list(results)
    columns = [c for c in next(iter(results.values())) if c != "uninterrupted"]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.6 * len(setups)))
    for i, setup in enumerate(setups):
        reference = results[setup]["uninterrupted"]
        for j, column in enumerate(columns):
            same = results[setup][column] == reference
            ax.add_patch(plt.Rectangle((j, i), 0.95, 0.9, color="#4caf50" if same else "#e57373"))
            label = "identical" if same else "different"
            ax.text(
                j + 0.47,
                i + 0.45,
                f"{label}\n{results[setup][column][:8]}",
                ha="center",
                va="center",
            )
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(setups), 0)
    ax.set_xticks([j + 0.47 for j in range(len(columns))], [f"resumed {c}" for c in columns])
    ax.set_yticks([i + 0.45 for i in range(len(setups))], setups)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title("final weights vs. an uninterrupted run (weights_sha256)")
    fig.tight_layout()
    return save_figure(fig, path)


def seed_figure(accuracies: dict[int, float], path: Path) -> Path:
    """Test accuracy per training seed: the seed is a source of variance, so report the spread."""
    fig, ax = plt.subplots(figsize=(6, 3))
    seeds = list(accuracies)
    ax.bar([str(s) for s in seeds], [accuracies[s] for s in seeds], color="#5c6bc0")
    low, high = min(accuracies.values()), max(accuracies.values())
    ax.set_ylim(low - 0.02, min(1.0, high + 0.01))
    ax.set_xlabel("training seed (same split, same test set)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"step 2, 20 epochs: {low:.3f} to {high:.3f}")
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the slide figures.")
    parser.add_argument("--out", type=Path, default=TOPIC_ROOT / "figures")
    args = parser.parse_args(argv)
    quiet_known_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        summary = run(
            [f"--out={root / 'headline'}", "--trainer.enable_progress_bar=false"], verbose=False
        )
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "training_curve.png").write_bytes(
            (summary["out"] / "training_curve.png").read_bytes()
        )
        results = {
            s.name: compare(root / s.name, s, workers=0)
            for s in (NAIVE, NO_21938_WORKAROUND, FIXED)
        }
        resume_figure(results, args.out / "resume.png")
    splits = load_splits()
    accuracies = {}
    for seed in range(5):
        model, _ = fit(Config(seed=seed), splits, verbose=False)
        accuracies[seed] = evaluate(model, splits.x_test, splits.y_test)[1]
    seed_figure(accuracies, args.out / "seeds.png")
    print(f"wrote {args.out}/training_curve.png, resume.png, seeds.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
