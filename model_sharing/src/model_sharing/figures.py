"""Plots worth seeing: the byte layout of a safetensors file and the tiny LM's loss curve."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works on a login node without a display
import matplotlib.pyplot as plt  # noqa: E402

from model_sharing.receipt import atomic_write  # noqa: E402
from model_sharing.safetensors_tools import describe  # noqa: E402


def plot_safetensors_layout(path: Path, png: Path) -> Path:
    """One bar = the file: 8-byte length, JSON header, then each tensor's raw bytes in order."""
    path = Path(path)
    rows = describe(path)  # the library validates the file first
    with path.open("rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
    segments = [("length", 8), ("JSON header", header_len)]
    segments += [(r["name"], r["offsets"][1] - r["offsets"][0]) for r in rows]
    segments.sort(key=lambda s: s[0] not in ("length", "JSON header"))
    fig, ax = plt.subplots(figsize=(9, 3.0))
    start = 0
    colors = plt.get_cmap("tab10").colors
    for i, (name, size) in enumerate(segments):
        ax.barh(
            0,
            size,
            left=start,
            color=colors[i % 10],
            edgecolor="black",
            label=f"{name} ({size:,d} B)",
        )
        if size > 600:
            ax.text(start + size / 2, 0, f"{name}\n{size:,d} B", ha="center", va="center")
        start += size
    ax.set_yticks([])
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.45), fontsize=8)
    ax.set_xlabel("byte offset in model.safetensors")
    ax.set_title(
        f"{path.name}: {header_len:,d}-byte JSON header, then raw tensors - no code anywhere"
    )
    fig.tight_layout()
    return _save(fig, png)


def plot_lm_loss(folder: Path, png: Path) -> Path:
    folder = Path(folder)
    losses = json.loads((folder / "losses.json").read_text())["train_loss"]
    sample = json.loads((folder / "sample.json").read_text())
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(range(1, len(losses) + 1), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("train loss (nats/token)")
    ax.set_title(f"tiny GPT-2; greedy: {sample['text']!r}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, png)


def _save(fig, png: Path) -> Path:
    """Whole file or none: savefig into a temporary file, then one rename."""
    atomic_write(png, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return Path(png)
