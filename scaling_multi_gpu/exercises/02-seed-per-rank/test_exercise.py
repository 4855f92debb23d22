"""Checker for 02-seed-per-rank: DDP ranks must draw different, reproducible augmentations.

Run from the topic folder: uv run pytest exercises/02-seed-per-rank
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
SEED, WORLD = 0, 2


def load_starter():
    spec = importlib.util.spec_from_file_location("exercise_loader", HERE / "loader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draws(module, seed: int = SEED) -> dict[int, tuple[list[int], list[int]]]:
    """(sample indices, augmentation codes) per rank, each rank run as DDP would run it."""
    out = {}
    for rank in range(WORLD):
        torch.manual_seed(seed)  # what every rank does first, so the initial weights agree
        loader = module.make_loader(module.FlipCropDataset(), rank, WORLD, seed)
        batches = list(loader)
        out[rank] = (
            [i for b, _ in batches for i in b.tolist()],
            [a for _, a in batches for a in a.tolist()],
        )
    return out  # fmt: skip


def test_ranks_draw_their_own_reproducible_augmentations():
    module = load_starter()
    first = draws(module)
    (samples0, aug0), (samples1, aug1) = first[0], first[1]
    if sorted(samples0 + samples1) != list(range(len(module.FlipCropDataset()))):
        pytest.fail("the ranks no longer split the data between them: keep the DistributedSampler", pytrace=False)  # fmt: skip
    if aug0 == aug1:
        pytest.fail(
            "rank 0 and rank 1 still draw the same augmentation codes (on different images): "
            f"{aug0[:4]}... on both. Hint: where do the workers' seeds come from when the "
            "DataLoader has no generator of its own - and what did every rank seed that with?",
            pytrace=False,
        )
    if draws(module) != first:
        pytest.fail("a rerun with the same seed draws different augmentations: seed what you add from `seed`", pytrace=False)  # fmt: skip
    if draws(module, SEED + 1)[0][1] == aug0:
        pytest.fail("another --seed draws the same augmentations: the seed must still matter", pytrace=False)  # fmt: skip
