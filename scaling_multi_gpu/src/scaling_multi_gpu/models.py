"""The models: a small CNN that trains in seconds on a CPU, and ResNet-152 for the GPU demo.

The small CNN has no BatchNorm and no dropout on purpose. BatchNorm computes statistics over the
*local* batch, so DDP on 2 ranks would normalise differently from one process on the whole batch
(the fix is SyncBatchNorm); dropout draws random numbers that differ per rank. Both would break the
"same model whatever the strategy" check for reasons that are not about gradient averaging.
"""

from __future__ import annotations

import torch
from torch import nn

from scaling_multi_gpu.cli import UsageError


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head: ~25k parameters, a few ms per step on a CPU."""

    def __init__(self, num_classes: int = 10, width: int = 16, image_size: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(2 * width * (image_size // 4) ** 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.head(x.flatten(1))


def build_model(name: str, num_classes: int, image_size: int, seed: int) -> nn.Module:
    """Build the model with the seed applied first, so every rank starts from the same weights."""
    torch.manual_seed(seed)
    if name == "small":
        return SmallCNN(num_classes=num_classes, image_size=image_size)
    if name == "resnet152":
        try:
            from torchvision.models import resnet152
        except ImportError as exc:
            raise UsageError("--model resnet152 needs torchvision: uv sync --extra vision") from exc
        return resnet152(num_classes=num_classes)
    raise UsageError(f"unknown model {name!r} (choose small or resnet152)")
