"""The command edge: every experiment's options, and how bad input is refused before any work.

Each experiment is one command: `--seed` fixes every random choice, `--full` switches from the
quick default to the slide-quality size, `--out` names the folder that receives the tables, the
figure, `results.npz` and `run.json`. Bad input (an unknown option, NaN, a folder that cannot be
created) gives ONE line, `error: ...`, on stderr and exit status 2, and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUTPUTS = Path("outputs")

# The command each experiment is, as run.json records it (also when of-all runs it).
SCRIPTS = {
    "capacity": "of-capacity",
    "leakage": "of-leakage",
    "reusable_holdout": "of-holdout",
    "ladder": "of-ladder",
    "seed_lottery": "of-seeds",
    "nested_cv": "of-tuning",
    "replicability": "of-replicate",
    "": "of-all",
}


class BadInput(Exception):
    """Input refused before the work starts: one `error: ...` line and exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one `error: <prog>: <message>` line, not a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def finite_float(text: str) -> float:
    """argparse `type=` for float options: NaN and infinity are refused (NaN passes `x <= 0`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def check_out(path: Path, option: str = "--out") -> Path:
    """Refuse an output folder that cannot be made, before minutes of work. Creates nothing: it
    finds the nearest existing folder and tries to write a temporary file there (`os.access` says
    "writable" to root even under /proc, so only trying tells)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{option} {path} exists and is not a folder")
    parent = path.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput(f"{option} {path} cannot be created: {parent} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise BadInput(
            f"{option} {path} cannot be created: cannot write in {parent} ({exc.strerror})"
        ) from None
    return path


def make_parser(description: str, default_out: str) -> OneLineParser:
    """The options every experiment has: --seed, --full, --out."""
    parser = OneLineParser(prog=SCRIPTS.get(default_out, "of-all"), description=description)
    parser.set_defaults(script=parser.prog)
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice")
    parser.add_argument(
        "--full", action="store_true", help="slide-quality size (slower) instead of the quick one"
    )
    parser.add_argument(
        "--out", type=Path, default=OUTPUTS / default_out, help="folder for table, figure, run.json"
    )
    return parser


def check_args(args: argparse.Namespace) -> None:
    """Reject impossible values before any work is done: seeds, counts, the output folder."""
    if args.seed < 0:
        raise BadInput(f"--seed must be >= 0, got {args.seed}")
    for name, value in vars(args).items():
        if name in {"seed", "full", "out"}:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise BadInput(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    check_out(args.out)


def run_at_edge(command: Callable[[], Any]) -> int:
    """Run a command; bad input ends as one stderr line and exit status 2. A crash during the
    work is not bad input: it keeps its traceback, and nothing already written is deleted."""
    from threadpoolctl import threadpool_limits

    try:
        # One BLAS/OpenMP thread: these problems are small, and on a shared machine extra
        # threads mostly spin (measured: 10x slower under load). Results do not depend on it.
        with threadpool_limits(limits=1):
            command()
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
