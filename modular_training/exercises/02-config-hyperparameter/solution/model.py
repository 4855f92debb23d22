"""Exercise 02, solved: the hidden width is a constructor argument, so the config can set it."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn


class SmallClassifier(L.LightningModule):
    """An MLP for the 64 pixels of a digit, trained with Adam."""

    def __init__(self, in_features: int = 64, hidden: int = 32, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()  # hidden is now in every checkpoint and saved config
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
