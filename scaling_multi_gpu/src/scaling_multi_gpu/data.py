"""Seeded synthetic images (the default) and CIFAR-100 (opt-in): the data every strategy trains on.

The synthetic set is built from one seed, so every rank, every rerun and every strategy sees the
same tensors without a download. Each class is a fixed random "template" image plus noise, which a
small CNN learns in a few dozen steps - enough to prove that training does something.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset, TensorDataset

from scaling_multi_gpu.plumbing import BadInput

if TYPE_CHECKING:
    from scaling_multi_gpu.train import TrainConfig


def synthetic_images(
    n: int = 2048, num_classes: int = 10, image_size: int = 32, seed: int = 0, noise: float = 1.0
) -> TensorDataset:
    """`n` images of shape 3 x image_size x image_size; label = which template the image came from."""
    g = torch.Generator().manual_seed(
        seed
    )  # its own generator: building data never moves the global RNG
    templates = torch.randn(num_classes, 3, image_size, image_size, generator=g)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    images = templates[labels] + noise * torch.randn(n, 3, image_size, image_size, generator=g)
    return TensorDataset(images, labels)


def cifar100(root: Path, image_size: int = 32, train: bool = True) -> Dataset:
    """CIFAR-100 through torchvision (downloads ~160 MB once; needs the `vision` extra).

    `image_size=224` reproduces the workshop's original ResNet-152 setting.
    """
    try:
        from torchvision import datasets, transforms
    except ImportError as exc:  # keep the default install small; say how to get the optional part
        raise BadInput("--data cifar100 needs torchvision: uv sync --extra vision") from exc
    steps = [
        transforms.ToTensor(),
        transforms.Normalize((0.507, 0.487, 0.441), (0.267, 0.256, 0.276)),
    ]
    if image_size != 32:
        steps.insert(0, transforms.Resize(image_size))
    return datasets.CIFAR100(
        str(root), train=train, download=True, transform=transforms.Compose(steps)
    )


def dataset_tensors(ds: Dataset) -> tuple[torch.Tensor, ...]:
    """The raw tensors of a TensorDataset (for hashing into run.json); empty for other datasets."""
    return tuple(ds.tensors) if isinstance(ds, TensorDataset) else ()


def make_datasets(cfg: TrainConfig) -> tuple[Dataset, Dataset]:
    """(train, test) for a run's configuration: synthetic (default) or CIFAR-100."""
    if cfg.data == "synthetic":
        # One generator for train and test: same class templates, fresh noise for the 512 test images.
        full = synthetic_images(cfg.n_samples + 512, cfg.num_classes, cfg.image_size, seed=cfg.seed)
        images, labels = full.tensors
        train = TensorDataset(images[: cfg.n_samples], labels[: cfg.n_samples])
        return train, TensorDataset(images[cfg.n_samples :], labels[cfg.n_samples :])
    if cfg.data == "cifar100":
        root = Path(os.environ.get("DATA_DIR", "data"))
        return cifar100(root, cfg.image_size, train=True), cifar100(root, cfg.image_size, False)
    raise BadInput(f"unknown data {cfg.data!r} (choose synthetic or cifar100)")
