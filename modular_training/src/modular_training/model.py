"""The network all four steps train: a small MLP with dropout, so there is randomness inside a step too."""

from __future__ import annotations

from torch import nn


def make_mlp(
    in_features: int = 64, hidden: int = 128, num_classes: int = 10, dropout: float = 0.1
) -> nn.Sequential:
    """Two layers are enough for 8x8 digits (about 97% test accuracy); dropout makes step-level RNG matter."""
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
