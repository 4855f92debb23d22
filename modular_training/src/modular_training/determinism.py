"""The pieces that make a Lightning run resumable bit for bit, and the crash we use to test it.

Out of the box, a resumed run does NOT end with the same weights as an uninterrupted one:
1. Lightning checkpoints do not store the RNG state, and a plain `DataLoader(shuffle=True)`
   draws its shuffle order from the global RNG. -> `EpochSeededSampler`: the order of epoch e
   depends only on (seed, e).
2. Dropout draws from the global RNG too, whose state after a resume differs. -> `step_seed`:
   reseed at every optimiser step from (seed, global_step), which the checkpoint does store.
3. A checkpoint taken mid-epoch must also know how far into the epoch it was. -> torchdata's
   `StatefulDataLoader`, whose state Lightning saves and restores.
4. Lightning >= 2.5.3 creates the first resumed epoch's iterator before calling `set_epoch`
   (Lightning issue #21938), so that epoch would replay epoch 0's order. -> `resumed_epoch`:
   give the sampler the checkpoint's epoch when the dataloader is built.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch
from torch.utils.data import Sampler


def step_seed(seed: int, counter: int) -> int:
    """A distinct seed per (run seed, counter); the large factor keeps seed 1 step 0 != seed 0 step 1."""
    return seed * 1_000_003 + counter


class EpochSeededSampler(Sampler[int]):
    """Random order that is a pure function of (seed, epoch): no hidden state to lose in a crash."""

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this at the start of every epoch (as it does for DistributedSampler)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(step_seed(self.seed, self.epoch))
        return iter(torch.randperm(self.num_samples, generator=generator).tolist())

    def __len__(self) -> int:
        return self.num_samples


def resumed_epoch(trainer: L.Trainer | None) -> int:
    """The epoch the fit loop is about to run (already restored from `ckpt_path` when this is called).

    Workaround for Lightning #21938: the train dataloader's iterator is created before
    `set_epoch`, so the sampler must carry the right epoch from the moment it is built.
    """
    if trainer is None:
        return 0
    return trainer.fit_loop.epoch_progress.current.processed


class SimulatedCrash(RuntimeError):
    """Raised by `InterruptAt`: stands for a job killed by the scheduler or a power cut."""


class InterruptAt(L.Callback):
    """Save a checkpoint after optimiser step `step`, then crash, like a job killed mid-epoch."""

    def __init__(self, step: int, path: str) -> None:
        self.step = step
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)
            raise SimulatedCrash(f"simulated crash after step {self.step}")
