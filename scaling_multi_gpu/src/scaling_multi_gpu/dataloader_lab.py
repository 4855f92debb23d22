"""DataLoader lab: the input pipeline is the most common bottleneck. Measure it before buying GPUs.

Python runs one thread at a time (the GIL), so per-sample augmentation in the main process starves
the GPU. Worker processes (`num_workers`) run it in parallel, each holding a copy of the dataset
(memory ~ workers x the parent's size). `persistent_workers` keeps them alive between epochs
instead of starting them again; `pin_memory` (CUDA only) stages batches in page-locked memory so
`.to(device, non_blocking=True)` can overlap the copy with compute. Moving augmentation to the
device as one batched operation often beats all of it. Workers should return CPU tensors.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from scaling_multi_gpu.plumbing import (
    BadInput,
    OneLineParser,
    check_out,
    require_positive,
    run_at_edge,
    save_figure,
)
from scaling_multi_gpu.receipt import atomic_write

CROP = 80
BLUR = torch.full(
    (3, 1, 9, 9), 1 / 81
)  # a 9x9 box blur per channel: stands in for real augmentation cost


DECODE_PASSES = 6  # CPU work per image standing in for JPEG decoding (~1 ms, like a real pipeline)


def fake_decode(img: torch.Tensor) -> torch.Tensor:
    """Per-image CPU work every real pipeline has before augmentation (decoding a JPEG, resizing)."""
    x = img.float()[None]
    for _ in range(DECODE_PASSES):
        x = F.conv2d(x, BLUR, padding=4, groups=3)
    return x[0].clamp(0, 255).to(torch.uint8)


def augment_one(img: torch.Tensor) -> torch.Tensor:
    """Per-sample augmentation on the CPU: random crop and flip, to float, blur, normalise."""
    top, left = torch.randint(0, img.shape[-1] - CROP + 1, (2,)).tolist()
    x = img[:, top : top + CROP, left : left + CROP].float() / 255
    if torch.rand(()) < 0.5:
        x = x.flip(-1)
    x = F.conv2d(x[None], BLUR, padding=4, groups=3)[0]
    return (x - 0.5) / 0.25


def augment_batch(batch: torch.Tensor) -> torch.Tensor:
    """The same work as one batched operation on the device (one crop offset per batch, per-sample flips)."""
    top, left = torch.randint(0, batch.shape[-1] - CROP + 1, (2,)).tolist()
    x = batch[..., top : top + CROP, left : left + CROP].float() / 255
    flip = torch.rand(len(x), device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    x = F.conv2d(x, BLUR.to(x.device), padding=4, groups=3)
    return (x - 0.5) / 0.25


class ImageDataset(Dataset):
    """Seeded uint8 images (like decoded JPEGs); augments per sample when `per_sample` is set."""

    def __init__(self, n: int, size: int = 96, per_sample: bool = True, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
        self.per_sample = per_sample

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        img = fake_decode(
            self.images[i]
        )  # always per image, in the workers: decoding stays on the CPU
        return augment_one(img) if self.per_sample else img  # a CPU tensor, never a CUDA one


@dataclass(frozen=True)
class Setting:
    num_workers: int
    pin_memory: bool = False
    persistent_workers: bool = False
    transform: str = "cpu-per-sample"  # or "device-batched"

    @property
    def label(self) -> str:
        extras = [
            s for s, on in (("pin", self.pin_memory), ("persistent", self.persistent_workers)) if on
        ]
        return f"workers={self.num_workers} {'+'.join(extras) or '-'} {self.transform}"


def default_settings(cuda: bool) -> list[Setting]:
    workers = max(
        1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
    )
    settings = [Setting(0), Setting(1), Setting(workers), Setting(workers, persistent_workers=True)]
    if cuda:  # pinning needs an accelerator; on a CPU-only machine it does nothing
        settings.append(Setting(workers, pin_memory=True, persistent_workers=True))
    settings += [
        Setting(0, transform="device-batched"),
        Setting(workers, persistent_workers=True, transform="device-batched"),
    ]
    return settings


def measure(setting: Setting, n: int, batch_size: int, epochs: int, device: torch.device) -> float:
    """Samples per second over `epochs` full passes, including worker start-up (that is the point)."""
    ds = ImageDataset(n, per_sample=setting.transform == "cpu-per-sample")
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        num_workers=setting.num_workers,
        pin_memory=setting.pin_memory,
        persistent_workers=setting.persistent_workers and setting.num_workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            batch = batch.to(device, non_blocking=setting.pin_memory)
            if setting.transform == "device-batched":
                batch = augment_batch(batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    del loader  # stops persistent workers now rather than at garbage collection
    return n * epochs / elapsed


def benchmark(n: int = 512, batch_size: int = 64, epochs: int = 2) -> list[tuple[Setting, float]]:
    if n < batch_size or epochs < 1:
        raise BadInput("--samples must be at least --batch-size, --epochs at least 1")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings = default_settings(device.type == "cuda")
    # One intra-op thread in the main process, as DataLoader workers have: the comparison is then
    # about processes, not about tiny per-sample ops fighting over threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [
            (s, measure(s, n, batch_size, epochs, device))
            for s in tqdm(settings, desc="dataloader settings", leave=False)
        ]
    finally:
        torch.set_num_threads(threads)


def render(results: list[tuple[Setting, float]]) -> str:
    lines = [f"| {'setting':<45} | samples/s |", f"|{'-' * 47}|-----------|"]
    lines += [f"| {s.label:<45} | {rate:>9.0f} |" for s, rate in results]
    return "\n".join(lines)


def plot(results: list[tuple[Setting, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(results) + 1.2))
    ax.barh([s.label for s, _ in results][::-1], [r for _, r in results][::-1], color="tab:blue")
    ax.set_xlabel("samples/s (higher is better; includes worker start-up)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ax.set_title(f"DataLoader settings on {os.cpu_count()} CPU cores (load average {load:.1f})")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("outputs/dataloader"))
    p.add_argument(
        "--figure", type=Path, default=None, help="PNG path (default: <out>/dataloader_bench.png)"
    )
    args = p.parse_args(argv)

    def body() -> None:
        require_positive(samples=args.samples, batch_size=args.batch_size, epochs=args.epochs)
        check_out(args.out)
        check_out(args.figure, "--figure", kind="png")
        results = benchmark(args.samples, args.batch_size, args.epochs)
        table = render(results)
        print(table)
        atomic_write(args.out / "dataloader_bench.md", table + "\n")
        plot(results, args.figure or args.out / "dataloader_bench.png")

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
