"""Checker for 03-set-epoch: a new order every epoch, the same order on a rerun and after a resume.

Run from the topic folder: uv run pytest exercises/03-set-epoch
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).parent
WORLD, SEED = 2, 0


def load_starter():
    spec = importlib.util.spec_from_file_location("exercise_epochs", HERE / "epochs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_epoch_is_reshuffled_reproducibly():
    module = load_starter()
    runs = {rank: module.visit_order(rank, WORLD, SEED) for rank in range(WORLD)}
    for epoch in range(3):
        together = sorted(runs[0][epoch] + runs[1][epoch])
        if together != list(range(module.N_SAMPLES)):
            pytest.fail(f"in epoch {epoch} the ranks do not share the data out between them", pytrace=False)  # fmt: skip
    if runs[0][0] == runs[0][1] or runs[0][1] == runs[0][2]:
        pytest.fail(
            f"rank 0 sees the same order in every epoch: {runs[0][0][:6]}... each time. "
            "Hint: DistributedSampler shuffles with seed + epoch - who tells it the epoch?",
            pytrace=False,
        )
    if module.visit_order(0, WORLD, SEED) != runs[0]:
        pytest.fail("a rerun with the same seed visits another order: keep it seeded", pytrace=False)  # fmt: skip
    if module.visit_order(0, WORLD, SEED, start_epoch=2) != runs[0][2:]:
        pytest.fail(
            "a run resumed at epoch 2 sees another order than the uninterrupted run did in epoch 2: "
            "make the order a function of the epoch number, not of how many epochs ran before",
            pytrace=False,
        )
