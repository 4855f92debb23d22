"""Step 3 - the same classifier as a Lightning project: DataModule + LightningModule + Trainer + LightningCLI.

Lightning owns the loop, devices, checkpointing and logging; we write only what is specific to
the problem. LightningCLI turns the constructors' arguments into a YAML config (`configs/digits.yaml`),
command-line overrides (`--model.lr 0.01`) and `--print_config`; the fully resolved config is saved
beside every run. Resume with `--ckpt_path outputs/lightning/checkpoints/last.ckpt`.

Run:  uv run mt-train                        (the headline run: ~20 s in all, test accuracy 0.97)
      uv run mt-train --config configs/digits.yaml --trainer.max_epochs 5 --out outputs/short
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse import ArgumentError
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from safetensors.torch import save_file
from torch.utils.data import DataLoader, TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from modular_training.data import DATASETS, DataUnavailable, load_splits
from modular_training.determinism import EpochSeededSampler, resumed_epoch, step_seed
from modular_training.model import make_mlp
from modular_training.plots import plot_training_curve
from modular_training.receipt import data_sha256, weights_sha256, write_run_json

IN_FEATURES = {"digits": 64, "mnist": 28 * 28}


class ConfigError(ValueError):
    """An impossible configuration value; the CLI turns it into one `error:` line."""


class DigitsDataModule(L.LightningDataModule):
    """Loads and splits the data once; serves train / val / test loaders (test = the held-out split)."""

    def __init__(
        self,
        dataset: str = "digits",
        batch_size: int = 32,
        num_workers: int = 0,
        split_seed: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        data_dir: str = "data",
        resumable: bool = True,
        epoch_workaround: bool = True,
        seed: int = 0,
    ) -> None:
        """`resumable=False` is the naive setup (plain shuffled DataLoader), kept to show it fails;
        `epoch_workaround=False` drops only the Lightning #21938 workaround, to show it is needed.
        `seed` is linked to `seed_everything` by the CLI: one seed for the whole run."""
        super().__init__()
        if dataset not in DATASETS:
            raise ConfigError(f"data.dataset must be one of {DATASETS}, got {dataset!r}")
        if batch_size < 1 or num_workers < 0:
            raise ConfigError(
                f"need batch_size >= 1 and num_workers >= 0, got {batch_size}, {num_workers}"
            )
        self.save_hyperparameters()
        self.splits = None

    @property
    def in_features(self) -> int:
        return IN_FEATURES[self.hparams.dataset]

    def setup(self, stage: str) -> None:
        if self.splits is None:  # fit and test share one split, computed once
            h = self.hparams
            self.splits = load_splits(
                h.dataset, h.split_seed, h.val_fraction, h.test_fraction, h.data_dir
            )

    def train_dataloader(self) -> DataLoader:
        s, h = self.splits, self.hparams
        dataset = TensorDataset(s.x_train, s.y_train)
        if not h.resumable:
            # Naive: the shuffle order comes from the global RNG, which no checkpoint stores.
            return DataLoader(dataset, h.batch_size, shuffle=True, num_workers=h.num_workers)
        sampler = EpochSeededSampler(len(dataset), seed=h.seed)
        if h.epoch_workaround:  # Lightning #21938: the sampler must know the epoch already
            sampler.set_epoch(resumed_epoch(self.trainer))
        # StatefulDataLoader remembers how many batches of this epoch were served, so a
        # mid-epoch checkpoint resumes at the next batch instead of the epoch's start.
        return StatefulDataLoader(dataset, h.batch_size, sampler=sampler, num_workers=h.num_workers)

    def _eval_loader(self, x: torch.Tensor, y: torch.Tensor) -> DataLoader:
        return DataLoader(TensorDataset(x, y), 256, num_workers=self.hparams.num_workers)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.splits.x_val, self.splits.y_val)

    def test_dataloader(self) -> DataLoader:
        # The held-out test split: never seen in training or in choosing the checkpoint.
        return self._eval_loader(self.splits.x_test, self.splits.y_test)


class DigitClassifier(L.LightningModule):
    """The step-2 MLP with its training, validation and test steps and its optimiser."""

    def __init__(
        self,
        hidden: int = 128,
        dropout: float = 0.1,
        lr: float = 1e-3,
        in_features: int = 64,
        num_classes: int = 10,
        reseed_every_step: bool = True,
        seed: int = 0,
    ) -> None:
        """`reseed_every_step=False` is the naive setup. `in_features` and `seed` are linked by the CLI."""
        super().__init__()
        if lr <= 0:
            raise ConfigError(f"model.lr must be positive, got {lr}")
        if not 0 <= dropout < 1:
            raise ConfigError(f"model.dropout must be in [0, 1), got {dropout}")
        if hidden < 1:
            raise ConfigError(f"model.hidden must be at least 1, got {hidden}")
        self.save_hyperparameters()
        self.net = make_mlp(in_features, hidden, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.hparams.reseed_every_step:
            # Dropout masks depend only on (seed, step), which the checkpoint restores.
            torch.manual_seed(step_seed(self.hparams.seed, self.global_step))

    def _loss_and_accuracy(self, batch: tuple[torch.Tensor, torch.Tensor]):
        x, y = batch
        logits = self(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        return loss, (logits.argmax(1) == y).float().mean()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss_and_accuracy(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        loss, acc = self._loss_and_accuracy(batch)
        self.log_dict({"val_loss": loss, "val_acc": acc}, prog_bar=True)

    def test_step(self, batch, batch_idx: int) -> None:
        loss, acc = self._loss_and_accuracy(batch)
        self.log_dict({"test_loss": loss, "test_acc": acc})

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class History(L.Callback):
    """Per-epoch metrics for the training curve. It has state, so it is saved in the checkpoint:
    a resumed run's curve starts at epoch 0, not at the resume point."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = trainer.callback_metrics
        if "val_loss" in m:
            self.rows.append(
                {
                    "epoch": trainer.current_epoch,
                    "train_loss": float(m["train_loss"]),
                    "val_loss": float(m["val_loss"]),
                    "val_acc": float(m["val_acc"]),
                }
            )

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


def integer_seed(seed: Any) -> int:
    """`seed_everything: true` would draw a fresh random seed: a run nobody can repeat on purpose."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed_everything must be an integer, got {seed!r}")
    return seed


class DigitsCLI(LightningCLI):
    """LightningCLI plus the conventions of this repository: --out, --ckpt_path, one seed."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--out", type=str, default="outputs/lightning", help="output folder")
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="CPU threads; part of the computation (bits may differ)",
        )
        parser.add_argument(
            "--ckpt_path", type=str | None, default=None, help="resume from this checkpoint"
        )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val_acc",
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-{epoch:02d}-{val_acc:.3f}",
            }
        )
        # Derived values are linked, not repeated: one seed, one output folder, one input size.
        parser.link_arguments("out", "trainer.default_root_dir")
        parser.link_arguments(
            "out", "checkpoint.dirpath", compute_fn=lambda out: f"{out}/checkpoints"
        )
        parser.link_arguments("seed_everything", "data.seed", compute_fn=integer_seed)
        parser.link_arguments("seed_everything", "model.seed", compute_fn=integer_seed)
        parser.link_arguments("data.in_features", "model.in_features", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        threads = self.config.threads
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


TRAINER_DEFAULTS: dict[str, Any] = {
    "max_epochs": 20,
    "deterministic": True,  # torch.use_deterministic_algorithms(True): fail loudly, never differ silently
    "accelerator": "cpu",
    "devices": 1,
    "logger": False,  # step 4 adds MLflow; here run.json + the History callback are the record
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}


def check_checkpoint(path: str, model: L.LightningModule) -> None:
    """Refuse a missing, damaged or mismatched checkpoint with one clear message, before any output."""
    if not Path(path).is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a checkpoint at all, ...
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"checkpoint {path} is unreadable (truncated or corrupt?): {first_line}"
        ) from None
    if not isinstance(ckpt, dict) or not {"state_dict", "loops"} <= ckpt.keys():
        raise ConfigError(f"checkpoint {path} is not a Lightning training checkpoint")
    # A checkpoint of another architecture (say `--model.hidden 64` against a 128-wide run) would
    # otherwise fail deep inside `fit` with a wall of size-mismatch lines.
    saved = ckpt["state_dict"]
    for name, tensor in model.state_dict().items():
        if name not in saved or saved[name].shape != tensor.shape:
            there = list(saved[name].shape) if name in saved else "missing"
            raise ConfigError(
                f"checkpoint {path} does not fit this model (another config?): "
                f"{name} is {there} there, {list(tensor.shape)} here"
            )


def build_cli(args: list[str] | None, callbacks: list[L.Callback]) -> DigitsCLI:
    """Parse config files and flags, then instantiate data, model and trainer (nothing runs yet)."""
    return DigitsCLI(
        DigitClassifier,
        DigitsDataModule,
        run=False,  # one command does fit + test + receipt; no subcommands
        args=args,
        seed_everything_default=0,
        trainer_defaults={**TRAINER_DEFAULTS, "callbacks": callbacks},
        save_config_callback=None,  # we write config.yaml ourselves, atomically
        parser_kwargs={"exit_on_error": False, "default_env": False},
    )


def run(
    args: list[str] | None = None,
    extra_callbacks: list[L.Callback] | None = None,
    logger: Any = None,
    verbose: bool = True,
    command_name: str = "mt-train",
) -> dict[str, Any]:
    """Fit, test the best-on-validation checkpoint, write outputs; return the run summary."""
    started = time.time()
    history = History()
    cli = build_cli(args, [history, *(extra_callbacks or [])])
    config, trainer, model, data = cli.config, cli.trainer, cli.model, cli.datamodule
    if config.ckpt_path:
        check_checkpoint(config.ckpt_path, model)
    if logger is not None:
        trainer.logger = logger
    data.setup("fit")  # load and split now: a data problem stops us before any output exists
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if not config.ckpt_path:
        remove_stale_checkpoints(out / "checkpoints", verbose)
    config_text = cli.parser.dump(config, skip_none=False)
    write_text_atomic(out / "config.yaml", config_text)  # the fully resolved config

    trainer.fit(model, datamodule=data, ckpt_path=config.ckpt_path)
    # Test once, with the checkpoint that validation chose: the test split plays no part in choosing.
    trainer.test(model, datamodule=data, ckpt_path="best", verbose=False)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_weights_atomic(state, out / "model.safetensors")  # the tested (best-on-validation) weights
    plot_training_curve(history.rows, out / "training_curve.png", title="step 3: Lightning")
    best = max(history.rows, key=lambda r: r["val_acc"]) if history.rows else {}
    metrics = {
        "test_accuracy": float(trainer.callback_metrics["test_acc"]),
        "test_loss": float(trainer.callback_metrics["test_loss"]),
        "best_val_accuracy": best.get("val_acc", float("nan")),
        "epochs": float(trainer.current_epoch),
    }
    receipt = write_run_json(
        out,
        seed=int(config.seed_everything),
        config=yaml.safe_load(config_text),
        metrics=metrics,
        weights_sha256=weights_sha256(state),
        data_sha256=data_sha256(*data.splits.tensors()),
        started=started,
        device=str(trainer.strategy.root_device),
        command=[command_name, *(sys.argv[1:] if args is None else args)],
    )
    summary = {
        "out": out,
        "run_json": receipt,
        "weights_sha256": weights_sha256(state),
        "best_checkpoint": trainer.checkpoint_callback.best_model_path,
        "last_checkpoint": trainer.checkpoint_callback.last_model_path,
        "history": history.rows,
        "seconds": time.time() - started,
        **metrics,
    }
    if verbose:
        print_summary(summary)
    return summary


def remove_stale_checkpoints(folder: Path, verbose: bool) -> None:
    """A fresh run replaces the previous run in the same --out folder. Without this, Lightning
    would write last-v1.ckpt beside the old last.ckpt, and "last" would no longer mean this run."""
    stale = sorted(folder.glob("*.ckpt"))
    for path in stale:
        path.unlink()
    if stale and verbose:
        print(f"note: removed {len(stale)} checkpoint(s) of an earlier run in {folder}")


def save_weights_atomic(state: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def print_summary(s: dict[str, Any]) -> None:
    out = s["out"]
    print(
        f"\ntest accuracy {s['test_accuracy']:.4f} (best val {s['best_val_accuracy']:.4f}) "
        f"after {len(s['history'])} epochs in {s['seconds']:.1f} s\n"
        f"weights_sha256 {s['weights_sha256']}\n"
        f"wrote {out}/run.json, config.yaml, training_curve.png, model.safetensors, "
        f"checkpoints/ (last.ckpt, {Path(s['best_checkpoint']).name})"
    )


def quiet_known_warnings() -> None:
    """Silence advice that does not apply here, so the lines that matter stand out.

    (More workers for 1,257 tiny in-memory images; srun on a machine that merely has Slurm;
    a cloud-logging tip; deprecations inside libraries we do not control.)
    """
    for pattern in (
        ".*does not have many workers.*",
        ".*GPU available but not used.*",
        ".*`srun` command is available.*",
        ".*LeafSpec.*",
        ".*set_vital.*",
        ".*exists and is not empty.*",
        ".*args parameter is intended to run from within Python.*",
        ".*smaller than the logging interval.*",
    ):
        warnings.filterwarnings("ignore", message=pattern)
    # "GPU available: False", "Seed set to 0", the litlogger tip: INFO lines from Lightning.
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    quiet_known_warnings()
    try:
        run(argv)
    except (ArgumentError, ConfigError, DataUnavailable) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def one_line(exc: BaseException) -> str:
    """jsonargparse explains a bad value over several lines; keep what names the problem."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if "compute_fn of link" in lines[0] and "failed: " in lines[0]:
        return lines[0].split("failed: ", 1)[1]  # our own check inside a linked value
    key = re.match(r'Parser key "([^"]+)"', lines[0])
    given = [
        line.removeprefix("Given value:").strip()
        for line in lines
        if line.startswith("Given value:")
    ]
    if key and given:
        expected = sorted(set(re.findall(r"Expected a <class '(\w+)'>", str(exc))))
        return f"invalid value for {key.group(1)}: {given[0]!r} (expected {' or '.join(expected) or 'another type'})"
    return " ".join(lines[:2]) if key else lines[0]


if __name__ == "__main__":
    sys.exit(main())
