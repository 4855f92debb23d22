"""The data every step trains on: scikit-learn's bundled digits, split once by a seed into train / val / test.

The split is a pure function of `split_seed`, so the test set is the same no matter which training seed
you try, and it is never touched until the very end. Real MNIST sits behind `dataset="mnist"` (download).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

DATASETS = ("digits", "mnist")


class DataUnavailable(RuntimeError):
    """The data cannot be had here (missing optional package, no network); the CLIs say so in one line."""


@dataclass(frozen=True)
class Splits:
    """Three disjoint parts of one dataset, as float32 features and int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def in_features(self) -> int:
        return self.x_train.shape[1]

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """1,797 8x8 images flattened to 64 pixels in [0, 1]; ships with scikit-learn, no network."""
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def load_mnist_arrays(data_dir: str | Path = "data") -> tuple[np.ndarray, np.ndarray]:
    """70,000 28x28 MNIST images (train + test files pooled, re-split by us). Downloads on first use.

    Opt-in only: needs the `mnist` extra (torchvision) and the network. Tests never call it.
    """
    try:
        from torchvision.datasets import MNIST
    except ImportError:  # the extra is not installed
        raise DataUnavailable("dataset 'mnist' needs torchvision: uv sync --extra mnist") from None
    try:
        parts = [MNIST(str(data_dir), train=flag, download=True) for flag in (True, False)]
    except (OSError, RuntimeError) as exc:  # no network, mirror down, disk full
        raise DataUnavailable(f"could not get MNIST into {data_dir}: {exc}") from None
    x = torch.cat([p.data for p in parts]).reshape(-1, 28 * 28).numpy()
    y = torch.cat([p.targets for p in parts]).numpy()
    return (x / 255.0).astype(np.float32), y.astype(np.int64)


def split_indices(
    n: int, split_seed: int, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle 0..n-1 with its own generator and cut it into train / val / test index arrays.

    A private numpy Generator (not the global RNG) means nothing else in the program can
    shift the split: the same `split_seed` gives the same three sets, always.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction and test_fraction must be in (0, 1) and sum below 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    order = np.random.default_rng(split_seed).permutation(n)
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def load_splits(
    dataset: str = "digits",
    split_seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    data_dir: str | Path = "data",
) -> Splits:
    """Load a dataset and split it; the one entry point every step uses."""
    if dataset == "digits":
        x, y = load_digits_arrays()
    elif dataset == "mnist":
        x, y = load_mnist_arrays(data_dir)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    train, val, test = split_indices(len(x), split_seed, val_fraction, test_fraction)
    t = torch.from_numpy
    return Splits(t(x[train]), t(y[train]), t(x[val]), t(y[val]), t(x[test]), t(y[test]))
