"""Plots written as PNG files: the training curve every step saves beside its run.json."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works on a headless login node
import matplotlib.pyplot as plt

from modular_training.receipt import atomic_write


def save_figure(fig: plt.Figure, path: Path, dpi: int = 100) -> Path:
    """Save whole or not at all (a temporary file, then a rename): never half a PNG."""
    try:
        return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    finally:
        plt.close(fig)


def plot_training_curve(history: Sequence[dict[str, float]], path: Path, title: str = "") -> Path:
    """Train and validation loss (left axis) and validation accuracy (right axis) per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="val loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    acc = ax.twinx()
    acc.plot(epochs, [h["val_acc"] for h in history], "k--", label="val accuracy")
    acc.set_ylabel("val accuracy")
    acc.set_ylim(0.0, 1.0)
    lines = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)
