"""The command edge: bad input becomes one `error: ...` line and exit 2, checked before any work.

Nothing here is the lesson. Every `ms-*` command parses with `OneLineParser`, checks its inputs
and output paths first (`check_out`, `read_json`), and runs inside `run_at_edge`. A crash during
the work is not bad input: it exits 1 and deletes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn


class BadInput(Exception):
    """Input refused before the work starts: a missing file, a wrong type, an unwritable --out."""


class ShareError(BadInput):
    """A problem the user can fix (corrupted weights, an unpinned repo id, no token): not a bug."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is ONE line (`error: prog: message`), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message}\n")


def run_at_edge(command: Callable[[], int]) -> int:
    """Run `command`; BadInput becomes one line on stderr and exit 2.

    Any other exception is a crash, not bad input: Python reports it and exits 1, and nothing
    the command wrote is deleted.
    """
    try:
        return command()
    except BadInput as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def finite_float(text: str) -> float:
    """argparse `type=` for float options: nan and inf pass every `x <= 0` check, so refuse them."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def check_out(path: Path, option: str = "--out") -> Path:
    """Refuse an output folder the work could not write, BEFORE the work starts; create nothing.

    It must not be an existing file, and its nearest existing parent must be a folder we can
    create a file in. We really try (a temporary file, removed at once): `os.access` says yes
    to root under /proc, where nothing can be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{option} {path} exists and is not a folder")
    parent = next(p for p in [path, *path.absolute().parents] if p.exists())
    if not parent.is_dir():
        raise BadInput(f"{option} {path}: {parent} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot write in {parent} ({exc.strerror})") from None
    return path


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object, or say in one line why this file is not one."""
    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise ShareError(f"{path} not found ({what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShareError(f"{path} is not readable JSON ({what}): {exc}") from None
    if not isinstance(value, dict):
        raise ShareError(f"{path} holds a {type(value).__name__}, not a JSON object ({what})")
    return value


def require_int(value: Any, name: str, where: Path, *, low: int = 0) -> int:
    """`value` must be an int (not a bool, not a string) of at least `low`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ShareError(f"{where}: {name} must be an integer >= {low}, got {value!r}")
    return value
