"""Weights + structure as code: a digits classifier shared with `PyTorchModelHubMixin`.

The mixin adds `save_pretrained` / `from_pretrained` / `push_to_hub` to a plain `nn.Module`.
The folder it writes holds exactly three things a stranger needs: `config.json` (the
constructor arguments), `model.safetensors` (the tensors, no code) and `README.md` (the card).
The class itself - the structure as code - is what they `pip install` or copy from your repo.

Run: `uv run ms-train --out outputs/digits` (writes the folder, run.json and the card).
"""

from __future__ import annotations

import inspect
import sys
import time
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin, snapshot_download
from safetensors import SafetensorError
from torch import nn
from tqdm import tqdm

from model_sharing.card import write_classifier_card
from model_sharing.data import (
    SPLIT_SEED,
    DigitsSplit,
    check_seed,
    load_digits_split,
    seed_everything,
    use_one_cpu_thread,
)
from model_sharing.pinning import is_local_folder, require_commit
from model_sharing.plumbing import (
    OneLineParser,
    ShareError,
    check_out,
    finite_float,
    read_json,
    require_int,
    run_at_edge,
)
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
        if is_local_folder(name_or_path):
            read_config(Path(name_or_path))  # before the mixin warns "config.json not found"
        else:
            name_or_path = snapshot_download(
                str(name_or_path),
                revision=require_commit(str(name_or_path), revision),
                cache_dir=cache_dir,
                allow_patterns=["config.json", "model.safetensors"],
            )
        return DigitsMLP.from_pretrained(name_or_path, local_files_only=True, strict=True).eval()
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # missing, offline, bad
        raise ShareError(f"cannot load a DigitsMLP from {name_or_path!s}: {exc}") from exc


def read_config(folder: Path) -> dict[str, int]:
    """config.json of a DigitsMLP folder, checked: three positive integers, nothing else."""
    path = Path(folder) / "config.json"
    config = read_json(path, "the constructor arguments of a DigitsMLP")
    names = set(inspect.signature(DigitsMLP.__init__).parameters) - {"self"}
    if unknown := sorted(set(config) - names):
        raise ShareError(f"{path}: unknown keys {unknown}; a DigitsMLP takes {sorted(names)}")
    return {k: require_int(v, k, path, low=1) for k, v in config.items()}


def share_classifier(
    out: Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    epochs: int = 60,
    lr: float = 0.01,
    out_root: Path | None = None,
) -> Path:
    """Train, save the Hub folder, write run.json inside it, then the card from run.json.

    The test set is the fixed split (`SPLIT_SEED`), whatever `seed` trains: runs with two
    seeds are scored on the same images. `out_root`: the folder `--out` named, when `out` is a
    sub-folder of it (as in ms-demo).
    """
    started = time.time()
    use_one_cpu_thread()
    split = load_digits_split(SPLIT_SEED)
    model = train_classifier(split, seed=seed, hidden=hidden, epochs=epochs, lr=lr)
    model.save_pretrained(out)
    correct, n = count_correct(model, split.x_test, split.y_test), len(split.y_test)
    config = {"hidden": hidden, "epochs": epochs, "lr": lr, "batch_size": 64}
    write_run_json(
        out,
        seed=seed,
        config={**config, "split_seed": SPLIT_SEED},
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
    p = OneLineParser(prog="ms-train", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="the training seed (not the split's)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=finite_float, default=0.01, help="Adam's learning rate")
    p.add_argument("--out", type=Path, default=Path("outputs/digits-mlp"))
    args = p.parse_args(argv)
    if args.epochs < 1 or args.hidden < 1:
        raise ShareError("--epochs and --hidden must be positive")
    if not args.lr > 0:
        raise ShareError(f"--lr must be positive, got {args.lr}")
    check_seed(args.seed)
    out = share_classifier(
        check_out(args.out), seed=args.seed, hidden=args.hidden, epochs=args.epochs, lr=args.lr
    )
    for f in sorted(out.iterdir()):
        print(f"{f.stat().st_size:>9,d}  {f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
