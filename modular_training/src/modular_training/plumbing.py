"""Plumbing for the commands of this topic: the edge where errors become one line, quiet logs,
atomic files and the checkpoint check. Nothing here is about training; read it last.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from jsonargparse import ArgumentError
from lightning.fabric.utilities.exceptions import MisconfigurationException
from safetensors.torch import save_file

from modular_training.data import DataUnavailable


class BadInput(ValueError):
    """Input this topic refuses before any work starts (a missing or damaged checkpoint, ...)."""


# Errors that mean "the input was wrong", whoever raised them: jsonargparse for unknown keys and
# wrong types, Lightning for impossible Trainer settings, the OS for an --out we cannot write.
BAD_INPUT: tuple[type[BaseException], ...] = (
    ArgumentError,
    MisconfigurationException,
    BadInput,
    DataUnavailable,
    OSError,
)


def one_line(exc: BaseException) -> str:
    """The exception's own message, its lines joined into one (jsonargparse uses several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def run_at_edge(command: Callable[[], object]) -> int:
    """Run a command; bad input becomes one `error: ...` line on stderr and exit status 2.

    `SystemExit` is the parser's way of ending `--help` / `--print_config` (status 0) or of
    giving up after printing its own message; it passes through unchanged.
    """
    try:
        command()
    except BAD_INPUT as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    return 0


@contextmanager
def configuring() -> Iterator[None]:
    """While the config is parsed and objects are built, a ValueError is a bad value (a negative
    learning rate refused by torch.optim, a dropout of 1.5): report it as bad input."""
    try:
        yield
    except ValueError as exc:
        if isinstance(exc, BAD_INPUT):
            raise
        raise BadInput(one_line(exc)) from None


@contextmanager
def output_folder(path: str | Path) -> Iterator[Path]:
    """Create `--out` (an OSError here is bad input). If bad input shows only once training runs
    (a monitored metric nobody logs) and the folder is ours, remove it: nothing is left behind.
    A crash is not bad input: its checkpoints stay, to resume from."""
    out = Path(path)
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BAD_INPUT:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        raise


def check_checkpoint(path: str, model: torch.nn.Module | None = None) -> None:
    """Refuse a missing, damaged or (given `model`) mismatched checkpoint in one clear message."""
    if not Path(path).is_file():
        raise BadInput(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a checkpoint at all, ...
        raise BadInput(
            f"checkpoint {path} is unreadable (truncated or corrupt?): {one_line(exc)[:200]}"
        ) from None
    if not isinstance(ckpt, dict) or not {"state_dict", "loops"} <= ckpt.keys():
        raise BadInput(f"checkpoint {path} is not a Lightning training checkpoint")
    # A checkpoint of another architecture (say `--model.hidden 64` against a 128-wide run) would
    # otherwise fail deep inside `fit` with a wall of size-mismatch lines.
    saved = ckpt["state_dict"]
    for name, tensor in (model.state_dict() if model is not None else {}).items():
        if name not in saved or saved[name].shape != tensor.shape:
            there = list(saved[name].shape) if name in saved else "missing"
            raise BadInput(
                f"checkpoint {path} does not fit this model (another config?): "
                f"{name} is {there} there, {list(tensor.shape)} here"
            )


def save_weights_atomic(state: dict[str, torch.Tensor], path: Path) -> Path:
    """safetensors file via a temporary name and a rename: never half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(tmp))
    os.replace(tmp, path)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


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
