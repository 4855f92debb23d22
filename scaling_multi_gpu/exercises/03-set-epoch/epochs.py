"""The epoch loop of a DDP training script (train.py's shape), reduced to what it feeds each rank.

Check your fix with: uv run pytest exercises/03-set-epoch
"""

import torch
from torch.utils.data import DataLoader, DistributedSampler

N_SAMPLES = 24


def visit_order(
    rank: int, world: int, seed: int, start_epoch: int = 0, epochs: int = 3
) -> list[list[int]]:
    """The sample indices this rank trains on in each epoch from start_epoch (a resume) to epochs."""
    dataset = torch.arange(N_SAMPLES)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler)
    orders = []
    for epoch in range(start_epoch, epochs):  # noqa: B007 - the unused epoch IS the bug here
        # TODO (exercise): every epoch visits the data in the same order. Fix it, so that a run
        # resumed at epoch 2 still sees what the uninterrupted run saw in epoch 2.
        orders.append([i for batch in loader for i in batch.tolist()])
    return orders
