"""Step 3 - the command line: `LightningCLI` turns the classes of `step3_lightning.py` into a program.

Every constructor argument becomes a config key and a flag (`--model.hidden 64`), one YAML holds a
whole run (`configs/digits.yaml`), `--print_config` shows every value, and the resolved config is
saved beside each run (`save_config_kwargs`). The optimiser and the learning-rate schedule are
chosen in the config too (`optimizer:`, `lr_scheduler:`), not written into the model.

Two entry points:
  uv run mt-train [flags]            the headline: fit, then test the best-on-validation checkpoint,
                                     then write model.safetensors + run.json (~20 s, test accuracy 0.97)
  uv run mt-lightning fit|validate|test|predict [flags]   LightningCLI's standard subcommands
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse.typing import PositiveInt
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger

from modular_training.plots import plot_training_curve
from modular_training.plumbing import (
    check_checkpoint,
    configuring,
    output_folder,
    quiet_known_warnings,
    run_at_edge,
    save_weights_atomic,
)
from modular_training.receipt import data_sha256, weights_sha256, write_run_json
from modular_training.step3_lightning import DigitClassifier, DigitsDataModule

WEIGHTS_FILE = "model.safetensors"


class DigitsCLI(LightningCLI):
    """LightningCLI plus this repository's conventions: --out, --threads, one integer seed."""

    def __init__(self, *args: Any, run: bool = True, **kwargs: Any) -> None:
        self.one_command = not run  # mt-train: no subcommands, its own --ckpt_path
        super().__init__(*args, run=run, **kwargs)

    def add_default_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # An integer only: `seed_everything: true` would draw a fresh random seed, a run nobody
        # can repeat on purpose.
        parser.add_argument("--seed_everything", type=int, default=0, help="the one seed of a run")

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--out", type=str, default="outputs/lightning", help="output folder")
        parser.add_argument(
            "--threads", type=PositiveInt, default=1, help="CPU threads (part of the computation)"
        )
        if self.one_command:  # the subcommands fit/test/predict have their own --ckpt_path
            parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume from")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val_acc",  # chosen on validation, never on test
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                "checkpoint.filename": "best",
                # A rerun into the same --out replaces best.ckpt / last.ckpt instead of adding
                # last-v1.ckpt beside them: "last" always means this run.
                "checkpoint.enable_version_counter": False,
            }
        )
        parser.add_optimizer_args((torch.optim.Optimizer,))
        parser.set_defaults(
            {"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-3}}}
        )
        # Derived values are linked, not repeated: one seed, one output folder, one input size.
        parser.link_arguments("out", "trainer.default_root_dir")
        parser.link_arguments(
            "out", "checkpoint.dirpath", compute_fn=lambda out: f"{out}/checkpoints"
        )
        parser.link_arguments("seed_everything", "data.seed")
        parser.link_arguments("seed_everything", "model.seed")
        parser.link_arguments("data.in_features", "model.in_features", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        torch.set_num_threads(self._get(self.config, "threads"))

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        # The per-epoch metrics go to <out>/metrics.csv (the training curve is drawn from it).
        if self._get(self.config_init, "trainer").get("logger") in (None, True):
            kwargs.setdefault(
                "logger", CSVLogger(self._get(self.config, "out"), name="", version="")
            )
        return super().instantiate_trainer(**kwargs)


TRAINER_DEFAULTS: dict[str, Any] = {
    "max_epochs": 20,
    "deterministic": True,  # torch.use_deterministic_algorithms(True): fail loudly, never differ silently
    "accelerator": "cpu",
    "devices": 1,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}
CLI_SETTINGS: dict[str, Any] = {
    # The fully resolved config, defaults included, lands in <out>/config.yaml; a rerun replaces it.
    "save_config_kwargs": {"overwrite": True},
    # Errors become exceptions (the command's edge prints them in one line); no PL_* variables.
    "parser_kwargs": {"exit_on_error": False, "default_env": False},
}


def build_cli(args: list[str] | None, callbacks: list[L.Callback] = ()) -> DigitsCLI:
    """Parse config files and flags, then build data, model, optimiser and trainer (nothing runs yet)."""
    with configuring():
        return DigitsCLI(
            DigitClassifier,
            DigitsDataModule,
            run=False,
            args=args,
            trainer_defaults={**TRAINER_DEFAULTS, "callbacks": list(callbacks)},
            **CLI_SETTINGS,
        )


def read_history(metrics_csv: Path) -> list[dict[str, float]]:
    """One row per epoch from CSVLogger's metrics.csv (train and val values arrive on separate rows)."""
    by_epoch: dict[int, dict[str, float]] = {}
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(row["epoch"])
            for key in ("train_loss", "val_loss", "val_acc"):
                if row.get(key):
                    by_epoch.setdefault(epoch, {"epoch": epoch})[key] = float(row[key])
    return [r for _, r in sorted(by_epoch.items()) if len(r) == 4]


def train(
    args: list[str] | None = None,
    *,
    callbacks: list[L.Callback] = (),
    logger: Logger | None = None,
    command: list[str] | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """mt-train: fit, test the best-on-validation checkpoint, write the outputs; return a summary."""
    started = time.time()
    cli = build_cli(args, list(callbacks))
    config, trainer, model, data = cli.config, cli.trainer, cli.model, cli.datamodule
    if config.ckpt_path:
        check_checkpoint(config.ckpt_path, model)
    if logger is not None:  # step 4 adds MLflow beside the CSV file
        trainer.loggers = [*trainer.loggers, logger]
    data.setup("fit")  # load and split now: a data problem stops us before any output exists
    # Some settings are only refused once training starts (a monitored metric nobody logs, a
    # validation interval longer than an epoch): still bad input, and then nothing is left.
    with output_folder(config.out) as out, configuring():
        trainer.fit(model, datamodule=data, ckpt_path=config.ckpt_path)
        # Test once, with the checkpoint validation chose: the test split plays no part in choosing.
        trainer.test(model, datamodule=data, ckpt_path="best", verbose=False)
    weights = save_weights_atomic(model.state_dict(), out / WEIGHTS_FILE)  # the tested weights
    history = read_history(out / "metrics.csv")
    plot_training_curve(history, out / "training_curve.png", title="step 3: Lightning")
    metrics = {
        "test_accuracy": float(trainer.callback_metrics["test_acc"]),
        "test_loss": float(trainer.callback_metrics["test_loss"]),
        "best_val_accuracy": max((r["val_acc"] for r in history), default=float("nan")),
        "epochs": float(trainer.current_epoch),
    }
    digest = weights_sha256(model.state_dict())
    receipt = write_run_json(
        out,
        seed=config.seed_everything,
        config=yaml.safe_load((out / "config.yaml").read_text()),
        metrics=metrics,
        weights_sha256=digest,
        data_sha256=data_sha256(*data.splits.tensors()),
        started=started,
        device=str(trainer.strategy.root_device),
        command=command if command is not None or args is None else ["mt-train", *args],
        weights_file=weights,
    )
    summary = {
        "out": out,
        "run_json": receipt,
        "weights_sha256": digest,
        "best_checkpoint": trainer.checkpoint_callback.best_model_path,
        "last_checkpoint": trainer.checkpoint_callback.last_model_path,
        "history": history,
        "seconds": time.time() - started,
        **metrics,
    }
    if verbose:
        print(
            f"\ntest accuracy {summary['test_accuracy']:.4f} (best val {metrics['best_val_accuracy']:.4f}) "
            f"after {len(history)} epochs in {summary['seconds']:.1f} s\n"
            f"weights_sha256 {digest}\n"
            f"wrote {out}/run.json, config.yaml, metrics.csv, training_curve.png, {WEIGHTS_FILE}, "
            f"checkpoints/ (last.ckpt, best.ckpt)"
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    """`uv run mt-train`: the headline run."""
    quiet_known_warnings()
    return run_at_edge(lambda: train(argv))


def lightning_cli(argv: list[str] | None = None) -> DigitsCLI:
    """LightningCLI as its documentation shows it: parse, build, run the chosen subcommand."""
    with configuring():  # a bad value refused by a constructor is bad input here too
        return DigitsCLI(
            DigitClassifier,
            DigitsDataModule,
            args=argv,
            trainer_defaults=TRAINER_DEFAULTS,
            **CLI_SETTINGS,
        )


def lightning_main(argv: list[str] | None = None) -> int:
    """`uv run mt-lightning fit|validate|test|predict [flags]`."""
    quiet_known_warnings()
    return run_at_edge(lambda: lightning_cli(argv))


if __name__ == "__main__":
    sys.exit(main())
