"""Exercise 01: a Lightning project whose resumed run does not end where an uninterrupted one does."""

from __future__ import annotations

import lightning as L
import torch
from modular_training.data import load_splits
from modular_training.model import make_mlp
from torch.utils.data import DataLoader, TensorDataset


class Data(L.LightningDataModule):
    def __init__(self, seed: int = 0, batch_size: int = 32) -> None:
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str) -> None:
        self.splits = load_splits()

    def train_dataloader(self) -> DataLoader:
        dataset = TensorDataset(self.splits.x_train, self.splits.y_train)
        # TODO (exercise): this shuffle order comes from the global RNG, which no checkpoint stores.
        return DataLoader(dataset, batch_size=self.hparams.batch_size, shuffle=True)


class Model(L.LightningModule):
    def __init__(self, seed: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = make_mlp(64, 128, 10, dropout)

    # TODO (exercise): the dropout masks draw from the global RNG as well.

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def make_trainer(max_epochs: int) -> L.Trainer:
    """The checker trains with this Trainer (you may change it too)."""
    return L.Trainer(
        max_epochs=max_epochs,
        deterministic=True,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
