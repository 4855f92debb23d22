"""Step 2 - the same training in plain PyTorch, split into data / model / train / evaluate and a `main()`.

Each function does one thing and can be imported, tested and reused (the notebooks do). All choices
are arguments with defaults, recorded in run.json. The computation is exactly step 1's: same calls on
the random number generators in the same order, so the weights are bit-identical (a test checks it).

Run:  uv run mt-modular --seed 0 --epochs 20 --out outputs/modular
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset

from modular_training.data import DATASETS, Splits, load_splits
from modular_training.model import make_mlp
from modular_training.plots import plot_training_curve
from modular_training.plumbing import BadInput, OneLineParser, check_out, finite_float, run_at_edge
from modular_training.receipt import atomic_write, data_sha256, weights_sha256, write_run_json


@dataclass
class Config:
    """Everything that decides the result, in one place (and in run.json)."""

    seed: int = 0
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    hidden: int = 128
    dropout: float = 0.1
    split_seed: int = 0
    dataset: str = "digits"
    threads: int = 1  # part of the computation: another thread count may change the last bits

    def check(self) -> None:
        """Refuse impossible values early, with a message that names the problem."""
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:  # written so that NaN is refused too (NaN <= 0 is False)
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class DigitsDataset(Dataset):
    """A map-style dataset: how many examples there are, and example i as (image, label).

    `TensorDataset` would do the same for tensors already in memory; a class of your own is where
    reading files, decoding or augmenting goes (draw any randomness from a seeded generator).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]


def make_train_loader(splits: Splits, batch_size: int, seed: int) -> DataLoader:
    """Shuffled batches whose order depends only on `seed` (a private generator, not the global RNG)."""
    return DataLoader(
        DigitsDataset(splits.x_train, splits.y_train),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


def train_one_epoch(
    model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer
) -> float:
    """One pass over the training batches; returns the mean training loss."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    total, seen = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        seen += len(xb)
    return total / seen


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Loss and accuracy on one split, in eval mode (dropout off)."""
    model.eval()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    accuracy = (logits.argmax(1) == y).float().mean().item()
    return loss, accuracy


def fit(config: Config, splits: Splits, verbose: bool = True) -> tuple[nn.Module, list[dict]]:
    """Seed, build, train; returns the trained model and the per-epoch history."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)  # weight init and dropout draw from the global RNG
    model = make_mlp(splits.in_features, config.hidden, 10, config.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = make_train_loader(splits, config.batch_size, config.seed)
    history = []
    for epoch in range(config.epochs):
        train_loss = train_one_epoch(model, loader, optimizer)
        val_loss, val_acc = evaluate(model, splits.x_val, splits.y_val)
        history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc}
        )
        if verbose:
            print(
                f"epoch {epoch:2d}  train_loss {train_loss:.4f}  "
                f"val_loss {val_loss:.4f}  val_acc {val_acc:.3f}"
            )
    return model, history


def save_outputs(
    out: Path, config: Config, model: nn.Module, splits: Splits, history: list[dict], started: float
) -> dict:
    """Weights (safetensors), training curve (PNG) and the run receipt (run.json)."""
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    atomic_write(out / "model.safetensors", lambda tmp: save_file(state, str(tmp)))
    plot_training_curve(history, out / "training_curve.png", title="step 2: modular PyTorch")
    _, test_acc = evaluate(model, splits.x_test, splits.y_test)  # the test set, once, at the end
    metrics = {"test_accuracy": test_acc, "val_accuracy": history[-1]["val_acc"]}
    write_run_json(
        out,
        seed=config.seed,
        config=asdict(config),
        metrics=metrics,
        weights_sha256=weights_sha256(state),
        data_sha256=data_sha256(*splits.tensors()),
        started=started,
    )
    return {"weights_sha256": weights_sha256(state), **metrics}


def parse_args(argv: list[str] | None) -> tuple[Config, Path]:
    defaults = Config()
    parser = OneLineParser(prog="mt-modular", description="Step 2: modular plain-PyTorch training.")
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if name == "dataset":
            parser.add_argument(flag, choices=DATASETS, default=value)
        else:  # floats refuse nan and inf at the command line
            kind = finite_float if isinstance(value, float) else type(value)
            parser.add_argument(flag, type=kind, default=value)
    parser.add_argument("--out", type=Path, default=Path("outputs/modular"))
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    return Config(**args), out


def main(argv: list[str] | None = None) -> int:
    started = time.time()
    config, out = parse_args(argv)

    def command() -> None:
        try:  # every check before the first epoch: bad input costs no training
            config.check()
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        check_out(out)
        splits = load_splits(config.dataset, config.split_seed)
        model, history = fit(config, splits)
        result = save_outputs(out, config, model, splits, history, started)
        print(
            f"test_accuracy {result['test_accuracy']:.4f}  weights_sha256 {result['weights_sha256']}"
        )
        print(f"wrote {out}/run.json, model.safetensors, training_curve.png")

    return run_at_edge(command)


if __name__ == "__main__":
    sys.exit(main())
