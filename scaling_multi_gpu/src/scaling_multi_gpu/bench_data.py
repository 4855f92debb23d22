"""scaling-bench's input pipelines: the workshop's (PIL resize per image in DataLoader workers)
and the same pixels resized on the device in one batched operation (the `gpu_input` row)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

MEAN, STD = (0.507, 0.487, 0.441), (0.267, 0.256, 0.276)  # CIFAR-100, as the workshop normalised


def cifar_shaped_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """n uint8 images of 32x32x3 and labels: CIFAR-100's training set when it is on disk under
    $DATA_DIR (no download here: a benchmark must not depend on the network), else seeded noise of
    the same shape - resizing and the model's cost do not depend on what the pixels show."""
    path = Path(os.environ.get("DATA_DIR", "data")) / "cifar-100-python" / "train"
    if path.is_file():
        with path.open("rb") as f:
            raw = pickle.load(f, encoding="bytes")
        images = raw[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.asarray(raw[b"fine_labels"])
        reps = -(-n // len(images))  # repeat only if more images are asked for than exist
        return (
            np.tile(images, (reps, 1, 1, 1))[:n],
            np.tile(labels, reps)[:n],
            f"CIFAR-100 ({path})",
        )
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return images, rng.integers(0, 100, n), "synthetic CIFAR-shaped (CIFAR-100 not on disk)"


class PilResized(Dataset):
    """The workshop's transform, per image in a worker: PIL resize, to tensor, normalise."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, size: int) -> None:
        self.images, self.labels, self.size = images, labels, size
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.images[i]).resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
        return (x - self.mean) / self.std, int(self.labels[i])


def cpu_batches(images, labels, args, device: torch.device, seed: int, workers: int):
    """Batches from DataLoader workers, copied to the device (pinned memory: asynchronous copy)."""
    loader = DataLoader(
        PilResized(images, labels, args.image_size),
        batch_size=args.batch,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def device_batches(images, labels, args, device: torch.device, seed: int, workers: int = 0):
    """The same pixels staged on the device ONCE as uint8; each batch is indexed, converted and
    resized there by one batched operation - no worker, no host round trip."""
    pixels = torch.from_numpy(images).to(device).permute(0, 3, 1, 2)  # N x 3 x 32 x 32, uint8
    targets = torch.from_numpy(labels).to(device)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed)).to(device)
    for i in range(len(order) // args.batch):
        idx = order[i * args.batch : (i + 1) * args.batch]
        x = F.interpolate(pixels[idx].float() / 255, size=args.image_size, mode="bilinear")
        yield (x - mean) / std, targets[idx]
