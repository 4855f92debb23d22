"""Step 3 - the command line: `LightningCLI` turns the classes of `step3_lightning.py` into a program.

Every constructor argument becomes a config key and a flag (`--model.hidden 64`), one YAML holds a
whole run (`configs/digits.yaml`), `--print_config` shows every value, and the resolved config is
saved beside each run (`save_config_kwargs`). The optimiser and the learning-rate schedule are
chosen in the config too (`optimizer:`, `lr_scheduler:`), not written into the model.

Two entry points:
  uv run mt-train [flags]            the headline: fit, then test the best-on-validation checkpoint,
                                     then write model.safetensors + run.json (~20 s, test accuracy 0.97)
  uv run mt-lightning fit|validate|test|predict [flags]   LightningCLI's standard subcommands

Read `plain_cli` first: LightningCLI as its documentation shows it, the whole program in one call.
Everything after it (`DigitsCLI`, `train`) is this repository's conventions on top: `--out`,
`--threads`, one integer seed, the run receipt, bad input as one line.

Seeds: LightningCLI calls its seed flag `--seed_everything` (it calls `L.seed_everything`); the
plain-PyTorch steps 1 and 2 call theirs `--seed`. Same idea, and `run.json` records it as `seed`.
Inputs: `--ckpt_path` names a checkpoint to resume from (mt-train) or to evaluate (mt-lightning
test/validate/predict, mt-predict), as in Lightning's own `trainer.fit(..., ckpt_path=...)`.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse.typing import PositiveInt
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger
from safetensors.torch import save_file

from modular_training.plots import plot_training_curve
from modular_training.plumbing import (
    StopReport,
    bad_input_until_first_step,
    check_checkpoint,
    check_out,
    output_folder,
    quiet_known_warnings,
    run_at_edge,
)
from modular_training.receipt import atomic_write, data_sha256, weights_sha256, write_run_json
from modular_training.step3_lightning import DigitClassifier, DigitsDataModule

WEIGHTS_FILE = "model.safetensors"


def plain_cli(args: list[str] | None = None) -> LightningCLI:
    """The standard form: every constructor argument of the two classes becomes a flag and a config
    key, and `fit` / `validate` / `test` / `predict` become subcommands. Try it in a notebook:
    `plain_cli(["fit", "--trainer.max_epochs=2"])`, or `plain_cli(["--help"])`."""
    return LightningCLI(DigitClassifier, DigitsDataModule, args=args)


# ---- This repository's conventions on top of LightningCLI (not Lightning's own) -------------
LIGHTNING_CKPT_WORDS = ("best", "last", "hpc", "registry")  # ckpt_path values that are not files


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
        # Checked before anything is built or written. (jsonargparse already refuses nan and inf
        # for float settings, and unknown keys; these are the checks it cannot make.)
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_out(config.out)
        torch.set_num_threads(config.threads)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # LightningCLI reads a subcommand's --ckpt_path right after parsing: check it first, so
        # `mt-lightning test --ckpt_path x.ckpt` names the file and the option.
        subcommand = self.config.get("subcommand")
        ckpt = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt is not None and ckpt not in LIGHTNING_CKPT_WORDS:
            check_checkpoint(ckpt)

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


def build_cli(
    args: list[str] | None,
    callbacks: list[L.Callback] = (),
    classes: tuple[type, type] = (DigitClassifier, DigitsDataModule),
) -> DigitsCLI:
    """Parse config files and flags, then build data, model, optimiser and trainer (nothing runs yet).
    `classes`: the model and data module (`resume.py` passes subclasses with ablation switches)."""
    with bad_input_until_first_step():
        return DigitsCLI(
            *classes,
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
    make_logger: Callable[[], Logger] | None = None,
    command: list[str] | None = None,
    verbose: bool = True,
    classes: tuple[type, type] = (DigitClassifier, DigitsDataModule),
) -> dict[str, Any]:
    """mt-train: fit, test the best-on-validation checkpoint, write the outputs; return a summary."""
    started = time.time()
    stop = StopReport(report=verbose)  # knows if training has begun; says where checkpoints are
    cli = build_cli(args, [*callbacks, stop], classes)
    config, trainer, model, data = cli.config, cli.trainer, cli.model, cli.datamodule
    if config.ckpt_path:
        check_checkpoint(config.ckpt_path, model)
    if make_logger is not None:  # step 4 adds MLflow beside the CSV file, once the config is good
        trainer.loggers = [*trainer.loggers, make_logger()]
    data.setup("fit")  # load and split now: a data problem stops us before any output exists
    # Some settings are only refused once fit starts (a validation interval longer than an epoch,
    # a monitored metric nobody logs): still bad input, and nothing is left. After the first
    # optimiser step an error is a crash: the folder and its checkpoints stay, to resume from.
    with output_folder(config.out) as out, bad_input_until_first_step(stop):
        trainer.fit(model, datamodule=data, ckpt_path=config.ckpt_path)
        # Test once, with the checkpoint validation chose: the test split plays no part in choosing.
        trainer.test(model, datamodule=data, ckpt_path="best", verbose=False)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    weights = atomic_write(out / WEIGHTS_FILE, lambda tmp: save_file(state, str(tmp)))
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
    """`plain_cli` plus our conventions: parse, build, run the chosen subcommand."""
    stop = StopReport()
    with bad_input_until_first_step(stop):  # a value refused by a constructor is bad input here too
        return DigitsCLI(
            DigitClassifier,
            DigitsDataModule,
            args=argv,
            trainer_defaults={**TRAINER_DEFAULTS, "callbacks": [stop]},
            **CLI_SETTINGS,
        )


def lightning_main(argv: list[str] | None = None) -> int:
    """`uv run mt-lightning fit|validate|test|predict [flags]`."""
    quiet_known_warnings()
    return run_at_edge(lambda: lightning_cli(argv))


if __name__ == "__main__":
    sys.exit(main())
