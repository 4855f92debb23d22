"""Step 3 - the step-2 classifier as Lightning parts: a LightningDataModule and a LightningModule.

This is the file to copy into your own project. Lightning owns the loop, the devices, checkpoints
and logging; we write only what is specific to the problem: how to load and split the data, which
network, what one training / validation / test / predict step computes. The command line around
it (`LightningCLI`, YAML configs, the run receipt) is in `step3_cli.py`.

The four resume fixes of `determinism.py` are built in (marked "Fix 1" to "Fix 4"): with them a
resumed run ends with the weights of one that never stopped. `resume.py` subclasses these two
classes to switch each fix off in turn and show what breaks.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from modular_training.data import DATASETS, load_splits
from modular_training.determinism import DROPOUT, EpochSeededSampler, resumed_epoch, stream_seed
from modular_training.model import make_mlp

IN_FEATURES = {"digits": 64, "mnist": 28 * 28}
Batch = tuple[torch.Tensor, torch.Tensor]


class DigitsDataModule(L.LightningDataModule):
    """Loads and splits the data once; serves train / val / test loaders (test = the held-out split)."""

    def __init__(
        self,
        dataset: str = "digits",
        batch_size: int = 32,
        num_workers: int = 0,
        split_seed: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        data_dir: str = "data",
        seed: int = 0,
    ) -> None:
        """`seed` (the shuffle order's) is linked to `seed_everything` by the CLI; `split_seed` is
        not: the test set stays the same whatever seed a run trains with."""
        super().__init__()
        if dataset not in DATASETS:
            raise ValueError(f"data.dataset must be one of {DATASETS}, got {dataset!r}")
        if batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"need data.batch_size >= 1 and data.num_workers >= 0, got {batch_size}, {num_workers}"
            )
        self.save_hyperparameters()  # stored in every checkpoint: load_from_checkpoint rebuilds it
        self.splits = None

    @property
    def in_features(self) -> int:
        return IN_FEATURES[self.hparams.dataset]

    def setup(self, stage: str) -> None:
        if self.splits is None:  # fit and test share one split, computed once
            h = self.hparams
            self.splits = load_splits(
                h.dataset, h.split_seed, h.val_fraction, h.test_fraction, h.data_dir
            )

    def train_dataloader(self) -> DataLoader:
        s, h = self.splits, self.hparams
        dataset = TensorDataset(s.x_train, s.y_train)
        # Fix 1: the shuffle order is a function of (seed, epoch), not of the global RNG, which
        # no checkpoint stores.
        sampler = EpochSeededSampler(len(dataset), seed=h.seed)
        # Fix 4, Lightning #21938: a resumed fit draws its first batch before it calls
        # `set_epoch`, so the sampler must know the restored epoch when the loader is built.
        sampler.set_epoch(resumed_epoch(self.trainer))
        # Fix 3: StatefulDataLoader remembers how many batches of this epoch it served, so a
        # mid-epoch checkpoint resumes at the next batch instead of at the epoch's start.
        # Keyword arguments: Lightning may rebuild a loader from them (to add a distributed sampler).
        return StatefulDataLoader(
            dataset, batch_size=h.batch_size, sampler=sampler, num_workers=h.num_workers
        )

    def _eval_loader(self, x: torch.Tensor, y: torch.Tensor) -> DataLoader:
        return DataLoader(TensorDataset(x, y), batch_size=256, num_workers=self.hparams.num_workers)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.splits.x_val, self.splits.y_val)

    def test_dataloader(self) -> DataLoader:
        # The held-out test split: never seen in training or in choosing the checkpoint. (The
        # Lightning example this topic grew from returned the *training* set here, so its "test
        # accuracy" was training accuracy; tests/test_data.py checks these images are unseen.)
        return self._eval_loader(self.splits.x_test, self.splits.y_test)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()  # "use it": predict the held-out split, score it after


class DigitClassifier(L.LightningModule):
    """The step-2 MLP with its training, validation, test and predict steps."""

    def __init__(
        self,
        hidden: int = 128,
        dropout: float = 0.1,
        in_features: int = 64,
        num_classes: int = 10,
        seed: int = 0,
    ) -> None:
        """`in_features` and `seed` are linked by the CLI (to the data and to `seed_everything`).
        The optimiser is not here: the CLI builds it from the config (`optimizer:` in the YAML)."""
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        if hidden < 1:
            raise ValueError(f"model.hidden must be at least 1, got {hidden}")
        self.save_hyperparameters()
        self.net = make_mlp(in_features, hidden, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        # Fix 2: dropout masks depend only on (seed, step), which the checkpoint restores.
        # Their own stream, so step k never reuses the seed of epoch k's shuffle.
        torch.manual_seed(stream_seed(self.hparams.seed, DROPOUT, self.global_step))

    def _loss_and_accuracy(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        return loss, (logits.argmax(1) == y).float().mean()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss_and_accuracy(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, acc = self._loss_and_accuracy(batch)
        self.log_dict({"val_loss": loss, "val_acc": acc}, prog_bar=True)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        loss, acc = self._loss_and_accuracy(batch)
        self.log_dict({"test_loss": loss, "test_acc": acc})

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self(batch[0]).argmax(1)  # predicted class per image

    def configure_optimizers(self) -> Any:
        # Used when you drive a Trainer yourself (notebook 03). Under the CLI the `optimizer:` and
        # `lr_scheduler:` config sections replace this method (LightningCLI's automatic optimisers).
        return torch.optim.Adam(self.parameters(), lr=1e-3)
