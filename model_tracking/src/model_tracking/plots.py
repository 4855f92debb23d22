"""Figures worth looking at: training curves of one run and a comparison of a sweep."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: on a cluster node or in CI there is none
import matplotlib.pyplot as plt  # noqa: E402

from model_tracking.receipt import atomic_write  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    """Save whole or not at all (the receipt's atomic_write): a crash never leaves half a PNG."""
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        )
    finally:
        plt.close(fig)


def plot_training_curves(history: dict[str, list[float]], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train vs validation: the naive tracker's only 'dashboard'."""
    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for split, style in (("train", "-"), ("val", "--")):
        ax_loss.plot(epochs, history[f"{split}_loss"], style, label=split)
        ax_acc.plot(epochs, history[f"{split}_accuracy"], style, label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_sweep(curves: dict[str, list[float]], finals: dict[str, float], path: Path) -> Path:
    """Validation accuracy per epoch for each run of a sweep, and the final values as bars."""
    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for label, series in curves.items():
        ax_curve.plot(range(1, len(series) + 1), series, marker=".", label=label)
    ax_curve.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    ax_curve.legend(fontsize=7, loc="lower right")
    labels = list(finals)
    ax_bar.barh(labels, [finals[k] for k in labels])
    ax_bar.set(xlabel="final validation accuracy", title="sorted by MLflow search_runs")
    ax_bar.set_xlim(min(finals.values()) - 0.05, 1.0)
    ax_bar.invert_yaxis()
    return save_figure(fig, path)
