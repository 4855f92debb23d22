"""Plots written as PNG files: the training curve every step saves beside its run.json."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works on a headless login node
import matplotlib.pyplot as plt


def save_figure(fig: plt.Figure, path: Path, dpi: int = 100) -> Path:
    """Save to a temporary file, then rename, so a crash never leaves half a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a figure is for sharing
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
        plt.close(fig)
    return path


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
