"""Random numbers in data loading: four ways they bite, and the fix for each.

(a) A dataset holding its own random generator (numpy's `default_rng`, a library's augmenter) is
    *copied* into every DataLoader worker, so all workers draw the same "random" augmentations.
    PyTorch reseeds `random`, `torch` and numpy's global RNG per worker - not your generator.
    Fix: `worker_init_fn` reseeding it from `get_worker_info().seed` (= base_seed + worker_id,
    where base_seed comes from the loader's `generator`, so a seeded generator keeps it reproducible).
(b) `DistributedSampler` shuffles with seed + epoch: forget `sampler.set_epoch(epoch)` and every
    epoch visits the data in the same order.
(c) A seeded `torch.Generator` passed to the DataLoader gives the same batch order run after run,
    independent of whatever else consumed the global RNG.
(d) Under DDP every rank seeds the global RNG with the SAME seed (so the initial weights agree),
    and a DataLoader without its own generator draws its workers' base seed from that global RNG:
    worker k on every rank gets the same seed, so every rank draws the same augmentation stream
    (on different images). Fix: `generator=torch.Generator().manual_seed(seed + rank)`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, get_worker_info

from scaling_multi_gpu.plumbing import OneLineParser, run_at_edge, seed_int


class RandomCropDataset(Dataset):
    """Returns a random crop offset per item, drawn from the dataset's OWN numpy generator."""

    def __init__(self, n: int = 8, seed: int = 0) -> None:
        self.n = n
        self.rng = np.random.default_rng(seed)  # the trap: forked/pickled into every worker as-is

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return int(self.rng.integers(0, 1_000_000))


def reseed_worker(worker_id: int) -> None:
    """worker_init_fn: give this worker's copy of the dataset its own, reproducible generator."""
    info = get_worker_info()
    info.dataset.rng = np.random.default_rng(info.seed)  # info.seed = base_seed + worker_id


def augmentations_per_batch(fix: bool, seed: int = 0, num_workers: int = 2) -> list[list[int]]:
    """The crop offsets each batch got; batches alternate between workers (0, 1, 0, 1)."""
    loader = DataLoader(
        RandomCropDataset(n=8),
        batch_size=2,
        num_workers=num_workers,
        worker_init_fn=reseed_worker if fix else None,
        generator=torch.Generator().manual_seed(seed),
    )
    return [batch.tolist() for batch in loader]


def epoch_orders(call_set_epoch: bool, epochs: int = 3, seed: int = 0) -> list[list[int]]:
    """Indices rank 0 of 2 visits in each epoch."""
    sampler = DistributedSampler(range(16), num_replicas=2, rank=0, shuffle=True, seed=seed)
    orders = []
    for epoch in range(epochs):
        if call_set_epoch:
            sampler.set_epoch(epoch)
        orders.append(list(sampler))
    return orders


def batch_order(seed: int, disturb_global_rng: bool = False) -> list[list[int]]:
    """First-epoch batches of a shuffled loader driven by its own seeded generator."""
    if disturb_global_rng:
        torch.rand(7)  # e.g. a model built earlier, or a different augmentation: must not matter
    loader = DataLoader(
        range(12), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    return [b.tolist() for b in loader]


class AugmentedDataset(Dataset):
    """Returns (index, random flip-and-crop code) drawn from torch's RNG, as torchvision transforms do."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> tuple[int, int]:
        return i, int(torch.randint(0, 1_000_000, ()))  # PyTorch seeds this per worker


def augmentations_per_rank(
    fix: bool, seed: int = 0, world: int = 2, num_workers: int = 2
) -> dict[int, dict[str, list[int]]]:
    """What each DDP rank's loader yields, run as the ranks would run it (one rank after another).

    Every rank executes the same code with the same seed; only `rank` differs. That is all it takes.
    """
    ranks = {}
    for rank in range(world):
        torch.manual_seed(seed)  # what every DDP rank does, so that the initial weights agree
        sampler = DistributedSampler(AugmentedDataset(), num_replicas=world, rank=rank, seed=seed)
        loader = DataLoader(
            AugmentedDataset(),
            batch_size=2,
            sampler=sampler,
            num_workers=num_workers,
            generator=torch.Generator().manual_seed(seed + rank) if fix else None,
        )
        batches = list(loader)
        ranks[rank] = {
            "samples": [i for index, _ in batches for i in index.tolist()],
            "augmentations": [a for _, aug in batches for a in aug.tolist()],
        }
    return ranks


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=seed_int, default=0)
    args = p.parse_args(argv)

    def body() -> None:
        bug, fixed = (
            augmentations_per_batch(False, args.seed),
            augmentations_per_batch(True, args.seed),
        )
        print("(a) per-batch crop offsets, 2 workers (batches alternate worker 0, 1, 0, 1)")
        print(f"    dataset rng not reseeded: {bug}")
        print(
            f"    -> worker 0 and worker 1 drew the same numbers: {bug[0] == bug[1] and bug[2] == bug[3]}"
        )
        print(f"    worker_init_fn reseeding: {fixed}")
        print(
            f"    -> rerun with the same generator seed is identical: {fixed == augmentations_per_batch(True, args.seed)}"
        )
        print("(b) DistributedSampler, rank 0, three epochs")
        print(f"    without set_epoch: {epoch_orders(False, seed=args.seed)}")
        print(f"    with set_epoch:    {epoch_orders(True, seed=args.seed)}")
        print("(c) DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))")
        print(f"    run 1:                         {batch_order(args.seed)}")
        print(
            f"    run 2, global RNG disturbed:   {batch_order(args.seed, disturb_global_rng=True)}"
        )
        print(f"    another seed:                  {batch_order(args.seed + 1)}")
        print("(d) 2 DDP ranks, 2 workers each, loader without / with generator seeded seed + rank")
        for fix in (False, True):
            ranks = augmentations_per_rank(fix, args.seed)
            label = "generator(seed + rank)" if fix else "no generator          "
            for rank, got in ranks.items():
                print(f"    {label} rank {rank}: samples {got['samples']}")
                print(f"    {' ' * len(label)}         augmentations {got['augmentations']}")
            same = ranks[0]["augmentations"] == ranks[1]["augmentations"]
            print(f"    -> both ranks drew the same augmentations: {same}")

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
