"""The thing being tracked: a small PyTorch classifier on scikit-learn's bundled digits.

Kept deliberately plain (no framework) so every number a tracker records is visibly computed
here: the split, the seed, the per-epoch losses and accuracies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

# The split has its own fixed seed: changing the *training* seed must not change which
# images are in the test set, or two runs would not be comparable at all.
SPLIT_SEED = 0


@dataclass(frozen=True)
class DigitsSplits:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def arrays(self) -> tuple[torch.Tensor, ...]:
        """All six tensors in a fixed order: what `data_sha256` hashes."""
        return (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)

    def named_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """(features, labels) by the role each split plays, as the trackers log them."""
        return {
            "training": (self.x_train, self.y_train),
            "validation": (self.x_val, self.y_val),
            "testing": (self.x_test, self.y_test),
        }


def seed_everything(seed: int) -> torch.Generator:
    """Seed every RNG the run touches and return the generator that shuffles the batches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Deterministic kernels: same seed -> bitwise-identical weights (checked by the tests).
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def load_digit_splits() -> DigitsSplits:
    """1,797 8x8 images scaled to [0, 1], split 60/20/20 into train/validation/test."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=SPLIT_SEED, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=SPLIT_SEED, stratify=y_rest
    )
    as_t = torch.from_numpy
    return DigitsSplits(
        as_t(x_train), as_t(y_train), as_t(x_val), as_t(y_val), as_t(x_test), as_t(y_test)
    )


def build_model(hidden: int = 64) -> nn.Module:
    """A two-layer perceptron: 64 pixels -> hidden units -> 10 digit classes."""
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> tuple[float, float]:
    """One pass over shuffled mini-batches; returns (mean loss, accuracy) over the epoch."""
    model.train()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    order = torch.randperm(len(x), generator=generator)
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        logits = model(x[idx])
        loss = loss_fn(logits, y[idx])
        optimizer.zero_grad()
        (loss / len(idx)).backward()
        optimizer.step()
        total_loss += loss.item()
        correct += (logits.argmax(1) == y[idx]).sum().item()
    return total_loss / len(x), correct / len(x)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on a held-out split."""
    model.eval()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(1) == y).float().mean().item()


def model_summary(model: nn.Module) -> str:
    """A readable description of the architecture and parameter counts (saved as an artifact)."""
    lines = [repr(model), ""]
    for name, p in model.named_parameters():
        lines.append(f"{name:12s} {tuple(p.shape)!s:12s} {p.numel():6d}")
    lines.append(f"total trainable parameters: {sum(p.numel() for p in model.parameters())}")
    return "\n".join(lines) + "\n"
