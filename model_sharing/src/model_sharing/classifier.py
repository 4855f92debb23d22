"""Weights + structure as code: a digits classifier shared with `PyTorchModelHubMixin`.

The mixin adds `save_pretrained` / `from_pretrained` / `push_to_hub` to a plain `nn.Module`.
The folder it writes holds exactly three things a stranger needs: `config.json` (the
constructor arguments), `model.safetensors` (the tensors, no code) and `README.md` (the card).
The class itself - the structure as code - is what they `pip install` or copy from your repo.

Run: `uv run ms-train --out outputs/digits` (writes the folder, run.json and the card).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin, snapshot_download
from safetensors import SafetensorError
from torch import nn
from tqdm import tqdm

from model_sharing.card import write_classifier_card
from model_sharing.data import DigitsSplit, load_digits_split, seed_everything, use_one_cpu_thread
from model_sharing.errors import ShareError, run_cli
from model_sharing.pinning import is_local_folder, require_commit
from model_sharing.receipt import data_sha256, weights_sha256, write_run_json

REPO_URL = "https://github.com/AaltoSciComp/ml-reproducibility-examples"


class DigitsMLP(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="pytorch",
    license="mit",
    tags=["image-classification", "digits", "reproducibility-workshop"],
    repo_url=REPO_URL,
):
    """64 pixels -> hidden -> 10 classes. Every constructor argument lands in config.json."""

    def __init__(self, n_features: int = 64, hidden: int = 64, n_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def train_classifier(
    split: DigitsSplit, *, seed: int = 0, hidden: int = 64, epochs: int = 60, lr: float = 0.01
) -> DigitsMLP:
    """Mini-batch Adam; the shuffling generator is seeded so the same seed gives the same weights."""
    seed_everything(seed)
    model = DigitsMLP(hidden=hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    n = len(split.y_train)
    for _ in tqdm(range(epochs), desc="train digits", leave=False, disable=None):
        for idx in torch.randperm(n, generator=shuffle).split(64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(split.x_train[idx]), split.y_train[idx])
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def count_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """How many arg-max predictions equal the label: a count, so the card can say k/n."""
    return int((model(x).argmax(dim=1) == y).sum())


def load_classifier(
    name_or_path: str | Path, *, revision: str | None = None, cache_dir: str | Path | None = None
) -> DigitsMLP:
    """ONE loading path for a local folder and a Hub repo id ("user/digits-mlp") at a commit.

    A repo id needs a pinned commit (`revision`). The mixin has no `use_safetensors` switch: it
    falls back to `pytorch_model.bin` (a pickle) when `model.safetensors` is missing, so we fetch
    exactly config + safetensors and load that folder. `strict=True`: the mixin's default
    (False) would silently leave missing weights at their random initial values.
    """
    try:
        if not is_local_folder(name_or_path):
            name_or_path = snapshot_download(
                str(name_or_path),
                revision=require_commit(str(name_or_path), revision),
                cache_dir=cache_dir,
                allow_patterns=["config.json", "model.safetensors"],
            )
        return DigitsMLP.from_pretrained(name_or_path, local_files_only=True, strict=True).eval()
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # missing, offline, bad
        raise ShareError(f"cannot load a DigitsMLP from {name_or_path!s}: {exc}") from exc


def share_classifier(
    out: Path, *, seed: int = 0, hidden: int = 64, epochs: int = 60, out_root: Path | None = None
) -> Path:
    """Train, save the Hub folder, write run.json inside it, then the card from run.json.

    `out_root`: the folder `--out` named, when `out` is a sub-folder of it (as in ms-demo).
    """
    started = time.time()
    use_one_cpu_thread()
    split = load_digits_split(seed)
    model = train_classifier(split, seed=seed, hidden=hidden, epochs=epochs)
    model.save_pretrained(out)
    correct, n = count_correct(model, split.x_test, split.y_test), len(split.y_test)
    write_run_json(
        out,
        seed=seed,
        config={"hidden": hidden, "epochs": epochs, "lr": 0.01, "batch_size": 64},
        metrics={"test_correct": correct, "test_n": n, "test_accuracy": correct / n},
        weights_sha256=weights_sha256(model.state_dict()),
        weights_file=Path(out) / "model.safetensors",
        out_root=out_root,
        data_sha256=data_sha256(split.x_train, split.y_train, split.x_test, split.y_test),
        started=started,
    )
    # The receipt travels inside the shared folder; the card is written from it, not by hand.
    write_classifier_card(out)
    return out


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--out", type=Path, default=Path("outputs/digits-mlp"))
    args = p.parse_args(argv)
    if args.epochs < 1 or args.hidden < 1:
        raise ShareError("--epochs and --hidden must be positive")
    out = share_classifier(args.out, seed=args.seed, hidden=args.hidden, epochs=args.epochs)
    for f in sorted(out.iterdir()):
        print(f"{f.stat().st_size:>9,d}  {f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
