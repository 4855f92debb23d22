"""Plumbing for the commands of this topic: the edge where bad input becomes one line, the output
checks made before any work, quiet logs and the checkpoint check. Nothing here is about training;
read it last.

The rule the commands follow: input refused *before the first optimiser step* is bad input (one
`error:` line, exit 2, nothing left behind); anything after it is a crash, which keeps every
checkpoint, says where they are, and may be resumed from.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import lightning as L
import torch
from jsonargparse import ArgumentError
from lightning.fabric.utilities.exceptions import MisconfigurationException

from modular_training.data import DataUnavailable


class BadInput(Exception):
    """Input this topic refuses before any work starts (an unwritable --out, a damaged checkpoint)."""


# Errors that mean "the input was wrong", whoever raised them: jsonargparse for unknown keys and
# wrong types, Lightning for impossible Trainer settings, our own checks, a dataset we cannot get.
BAD_INPUT: tuple[type[BaseException], ...] = (
    ArgumentError,
    MisconfigurationException,
    BadInput,
    DataUnavailable,
)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a refused command line is one `error: <prog>: <message>` line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {' '.join(message.split())}", file=sys.stderr)
        sys.exit(2)


def one_line(exc: BaseException) -> str:
    """The exception's own message, its lines joined into one (jsonargparse uses several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def run_at_edge(command: Callable[[], object]) -> int:
    """Run a command; bad input becomes one `error: ...` line on stderr and exit status 2.

    A crash (any other exception) passes through: Python prints its traceback and exits 1, and
    the run's checkpoints stay. `SystemExit` (`--help`, `--print_config`) passes through too.
    """
    try:
        command()
    except BAD_INPUT as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def finite_float(text: str) -> float:
    """argparse `type=` for float options: NaN and infinity are refused (NaN passes `x <= 0`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse `type=` for counts that must be at least 1 (threads, epochs)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def check_out(path: str | Path, option: str = "--out", *, folder: bool = True) -> Path:
    """Refuse an output path that cannot be written, before any work starts. Creates nothing.

    A file where a folder is expected (or the reverse), or a place where nothing can be created,
    is bad input. We try to create a temporary file in the nearest existing folder: `os.access`
    answers "writable" for root even under /proc, where every write fails.
    """
    out = Path(path)
    if out.exists() and out.is_dir() != folder:
        kind = "a file, not a folder" if folder else "a folder, not a file"
        raise BadInput(f"{option} {out}: is {kind}")
    parent = out if out.is_dir() else out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput(f"{option} {out}: {parent} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise BadInput(
            f"{option} {out}: cannot write in {parent} ({exc.strerror or exc})"
        ) from None
    return out


class StopReport(L.Callback):
    """Knows whether an optimiser step has run, and when training stops early says on stderr
    where the checkpoints are (Lightning's own Ctrl-C line is an INFO log, silenced here)."""

    def __init__(self, report: bool = True) -> None:
        self.stepped = False
        self.report = report  # False for the resume ablation's deliberate crashes

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module, optimizer) -> None:
        self.stepped = True

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        if not self.stepped or not self.report or isinstance(exception, BAD_INPUT):
            return  # nothing trained yet, or a refused setting: the edge reports it
        why = "interrupted (Ctrl-C)" if isinstance(exception, KeyboardInterrupt) else "crashed"
        last = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
        kept = f"checkpoints kept: resume with --ckpt_path {last}" if last else "no checkpoint yet"
        print(f"training {why} at step {trainer.global_step}; {kept}", file=sys.stderr)


@contextmanager
def bad_input_until_first_step(stop: StopReport | None = None) -> Iterator[None]:
    """A ValueError or OSError while the config is parsed, objects are built, or fit starts (a
    negative learning rate refused by torch.optim, a dropout of 1.5) is bad input, until the first
    optimiser step; after it, the same error is a crash and passes through unchanged."""
    try:
        yield
    except (ValueError, OSError) as exc:
        if isinstance(exc, BAD_INPUT) or (stop is not None and stop.stepped):
            raise
        raise BadInput(one_line(exc)) from None


def holds_checkpoint(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.ckpt"))


@contextmanager
def output_folder(path: str | Path) -> Iterator[Path]:
    """Create `--out` (checked first). If bad input shows only once training starts (a monitored
    metric nobody logs) and the folder is ours and holds no checkpoint, remove it: nothing is left
    behind. A crash is not bad input: the folder and its checkpoints stay, to resume from."""
    out = check_out(path)
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BAD_INPUT:
        if not existed and not holds_checkpoint(out):  # ours, and nothing worth resuming
            shutil.rmtree(out, ignore_errors=True)
        raise


def check_checkpoint(path: str, model: torch.nn.Module | None = None) -> None:
    """Refuse a missing, damaged or (given `model`) mismatched checkpoint in one clear message."""
    if not Path(path).is_file():
        raise BadInput(f"--ckpt_path {path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a checkpoint at all, ...
        raise BadInput(
            f"--ckpt_path {path}: checkpoint unreadable (truncated or corrupt?): {one_line(exc)[:200]}"
        ) from None
    if not isinstance(ckpt, dict) or not {"state_dict", "loops"} <= ckpt.keys():
        raise BadInput(f"--ckpt_path {path}: not a Lightning training checkpoint")
    # A checkpoint of another architecture (say `--model.hidden 64` against a 128-wide run) would
    # otherwise fail deep inside `fit` with a wall of size-mismatch lines.
    saved = ckpt["state_dict"]
    for name, tensor in (model.state_dict() if model is not None else {}).items():
        if name not in saved or saved[name].shape != tensor.shape:
            there = list(saved[name].shape) if name in saved else "missing"
            raise BadInput(
                f"--ckpt_path {path}: checkpoint does not fit this model (another config?): "
                f"{name} is {there} there, {list(tensor.shape)} here"
            )


def quiet_known_warnings() -> None:
    """Silence advice that does not apply here, so the lines that matter stand out.

    (More workers for 1,257 tiny in-memory images; srun on a machine that merely has Slurm;
    a cloud-logging tip; deprecations inside libraries we do not control; the CLI replacing the
    model's default `configure_optimizers` with the configured optimiser, which is the point.)
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
        ".*configure_optimizers` will be overridden by.*",
    ):
        warnings.filterwarnings("ignore", message=pattern)
    # "GPU available: False", "Seed set to 0", the litlogger tip: INFO lines from Lightning.
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
