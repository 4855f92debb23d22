"""Exercise 02: a LightningModule with a hard-coded hyperparameter. Make it configurable."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

HIDDEN = 32  # TODO (exercise): a constructor argument instead, so the config can set it


class SmallClassifier(L.LightningModule):
    """An MLP for the 64 pixels of a digit, trained with Adam."""

    def __init__(self, in_features: int = 64, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(in_features, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
