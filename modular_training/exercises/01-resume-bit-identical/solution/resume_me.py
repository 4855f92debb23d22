"""Exercise 01, solved: every random draw is a function of (seed, epoch) or (seed, step)."""

from __future__ import annotations

import lightning as L
import torch
from modular_training.data import load_splits
from modular_training.determinism import DROPOUT, EpochSeededSampler, resumed_epoch, stream_seed
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
        # The order of epoch e depends only on (seed, e); the epoch is in the checkpoint.
        sampler = EpochSeededSampler(len(dataset), seed=self.hparams.seed)
        # Lightning #21938: the first resumed epoch's iterator is built before set_epoch is called.
        sampler.set_epoch(resumed_epoch(self.trainer))
        return DataLoader(dataset, batch_size=self.hparams.batch_size, sampler=sampler)


class Model(L.LightningModule):
    def __init__(self, seed: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = make_mlp(64, 128, 10, dropout)

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # Dropout masks from (seed, step): the checkpoint restores global_step.
        torch.manual_seed(stream_seed(self.hparams.seed, DROPOUT, self.global_step))

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
