"""The models: a small CNN that trains in seconds on a CPU, and ResNet-152 for the GPU demo.

The small CNN has no BatchNorm and no dropout on purpose. BatchNorm computes statistics over the
*local* batch, so DDP on 2 ranks would normalise differently from one process on the whole batch
(the fix is SyncBatchNorm); dropout draws random numbers that differ per rank. Both would break the
"same model whatever the strategy" check for reasons that are not about gradient averaging.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Subset

from scaling_multi_gpu.plumbing import BadInput

if TYPE_CHECKING:
    from scaling_multi_gpu.strategies import Dist
    from scaling_multi_gpu.train import TrainConfig


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
            raise BadInput("--model resnet152 needs torchvision: uv sync --extra vision") from exc
        return resnet152(num_classes=num_classes)
    raise BadInput(f"unknown model {name!r} (choose small or resnet152)")


def evaluate(
    state: dict[str, torch.Tensor], cfg: TrainConfig, test_set, d: Dist | None = None
) -> float:
    """Accuracy of the gathered weights on held-out data, in a fresh unwrapped model ON THE DEVICE.

    Every rank scores its own slice of the test set and the counts are summed: nobody waits in a
    barrier while one rank evaluates alone (on the CPU, for ResNet-152 at 224 px, for minutes).
    """
    device = d.device if d else torch.device("cpu")
    model = build_model(cfg.model, cfg.num_classes, cfg.image_size, cfg.seed).to(device)
    model.load_state_dict(state)
    model.eval()
    rank, world = (d.rank, d.world) if d and d.backend else (0, 1)
    counts = torch.zeros(2, dtype=torch.int64, device=device)  # correct, total
    with torch.no_grad():
        for x, y in DataLoader(Subset(test_set, range(rank, len(test_set), world)), batch_size=256):
            x, y = x.to(device), y.to(device)
            counts += torch.stack(
                [(model(x).argmax(1) == y).sum(), torch.tensor(len(y), device=device)]
            )
    if d and d.backend:
        dist.all_reduce(counts)
    return counts[0].item() / counts[1].item()
