"""The pieces that make a Lightning run resumable bit for bit, and the crash we use to test it.

Out of the box, a resumed run does NOT end with the same weights as an uninterrupted one:
1. Lightning checkpoints do not store the RNG state, and a plain `DataLoader(shuffle=True)`
   draws its shuffle order from the global RNG. -> `EpochSeededSampler`: the order of epoch e
   depends only on (seed, e).
2. Dropout draws from the global RNG too, whose state after a resume differs. -> `stream_seed`:
   reseed at every optimiser step from (seed, global_step), which the checkpoint does store.
3. A checkpoint taken mid-epoch must also know how far into the epoch it was. -> torchdata's
   `StatefulDataLoader`, whose state Lightning saves and restores.
4. Lightning >= 2.5.3 creates the first resumed epoch's iterator before calling `set_epoch`
   (Lightning issue #21938), so that epoch would replay epoch 0's order. -> `resumed_epoch`:
   give the sampler the checkpoint's epoch when the dataloader is built. It matters with
   `num_workers=0` too: torchdata's `StatefulDataLoader` wraps the sampler in a batch iterator
   (`_BatchSamplerIterator`) whose constructor calls `iter(sampler)` at once, so the order is drawn
   when Lightning's `_FitLoop.setup_data()` creates the iterator, before `set_epoch`; on a resumed
   fit Lightning does not create it again. (Worker processes draw ahead in the same way.)
Shuffling and dropout draw from separate streams (`SHUFFLE`, `DROPOUT`), so the seed of epoch k's
order is never the seed of step k's dropout masks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import Sampler

SHUFFLE, DROPOUT = "shuffle", "dropout"


def stream_seed(seed: int, stream: str, counter: int) -> int:
    """The seed of draw `counter` (an epoch, a step) of one named random stream of a run.

    numpy's SeedSequence mixes (run seed, stream, counter) into well-separated seeds, so
    (seed 1, step 0) and (seed 0, step 1) differ, and so do epoch k's shuffle and step k's dropout.
    """
    stream_key = zlib.crc32(stream.encode())  # a stable number for the name (hash() is salted)
    return int(np.random.SeedSequence([seed, stream_key, counter]).generate_state(1)[0])


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
        generator = torch.Generator().manual_seed(stream_seed(self.seed, SHUFFLE, self.epoch))
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
