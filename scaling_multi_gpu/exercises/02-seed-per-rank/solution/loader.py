"""The data loader every DDP rank builds. Its random augmentations have a bug across ranks.

Every rank runs this same code with the same seed (so that the initial weights agree); only
`rank` differs. Check your fix with: uv run pytest exercises/02-seed-per-rank
"""

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class FlipCropDataset(Dataset):
    """Returns (index, augmentation code): a random crop offset and flip drawn from torch's RNG,
    which PyTorch seeds in each DataLoader worker - as torchvision's random transforms use it."""

    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int) -> tuple[int, int]:
        return i, int(torch.randint(0, 1_000_000, ()))


def make_loader(dataset: Dataset, rank: int, world: int, seed: int) -> DataLoader:
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, seed=seed)
    # The workers' seeds come from the loader's generator (else from the global RNG, which every
    # rank seeded alike): seed + rank gives each rank its own stream, and the same one next run.
    generator = torch.Generator().manual_seed(seed + rank)
    return DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=2, generator=generator)
