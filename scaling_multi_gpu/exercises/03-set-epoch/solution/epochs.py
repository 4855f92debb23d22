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
    for epoch in range(start_epoch, epochs):
        # The sampler shuffles with seed + epoch; it only learns the epoch from set_epoch. Being a
        # function of the epoch number (not of how many epochs ran before), a resume matches.
        sampler.set_epoch(epoch)
        orders.append([i for batch in loader for i in batch.tolist()])
    return orders
