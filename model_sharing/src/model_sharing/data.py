"""The digits data every example here shares: scikit-learn's bundled 8x8 images, one fixed split.

Bundled data means no download, so a learner offline gets the same bytes as everyone else;
`data_sha256` in run.json proves it. The split has its own seed (`SPLIT_SEED`), apart from the
training seed: training with `--seed 1` changes the weights, never which images are the test set,
so two seeds are compared on the same images.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from model_sharing.plumbing import ShareError

# The split's own seed, recorded in run.json's config and in the card. Never the training seed.
SPLIT_SEED = 0


@dataclass(frozen=True)
class DigitsSplit:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def check_seed(seed: int) -> None:
    """numpy and scikit-learn accept only seeds in [0, 2**32): say so before any work starts."""
    if not 0 <= seed < 2**32:
        raise ShareError(f"--seed must be in [0, 2**32), got {seed}")


def seed_everything(seed: int) -> None:
    """Seed every generator a run touches; one seed names the whole run."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def use_one_cpu_thread() -> None:
    """Tiny models gain nothing from threads, and on a shared machine extra threads spin-wait:
    one thread is often 10x faster here. (Results can differ in the last bits between thread
    counts, so a receipt should be compared at the same setting.)"""
    torch.set_num_threads(1)


def load_digits_split(split_seed: int = SPLIT_SEED, test_size: float = 0.25) -> DigitsSplit:
    """Pixels scaled to [0, 1] as float32; a stratified split fixed by `split_seed`."""
    check_seed(split_seed)
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x / 16.0, y, test_size=test_size, random_state=split_seed, stratify=y
    )
    return DigitsSplit(
        torch.tensor(x_tr, dtype=torch.float32),
        torch.tensor(y_tr, dtype=torch.long),
        torch.tensor(x_te, dtype=torch.float32),
        torch.tensor(y_te, dtype=torch.long),
    )


def fixed_batch(split: DigitsSplit, n: int = 32) -> torch.Tensor:
    """The first `n` test images: the fixed input every round-trip check compares outputs on."""
    return split.x_test[:n].clone()
