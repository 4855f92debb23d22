"""The command edge of this topic: where things live, one reader for every input, one error line.

Nothing here is the lesson. Every `env-*` command reads its inputs through `read_input`, checks
its outputs with `check_out` before any work starts, parses its flags with `OneLineParser` and
runs inside `run_at_edge`: bad input (a missing or corrupt file, an impossible value) becomes one
`error: ...` line on stderr and exit 2, never a traceback, and nothing half-written is left.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

# src/environments/plumbing.py -> the topic folder (pyproject.toml, uv.lock, example_project/).
TOPIC_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = TOPIC_ROOT / "example_project"
OUTPUTS = TOPIC_ROOT / "outputs"


class BadInput(Exception):
    """Input refused before the work starts: reported as one `error:` line, exit 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a wrong flag is one `error: <prog>: <message>` line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def run_at_edge(command: Callable[[], int]) -> int:
    """Run a command; BadInput becomes one `error:` line and exit 2.

    Library warnings raised meanwhile are held back and shown only if the command succeeds, so
    nothing prints before the error line of a refused input.
    """
    with warnings.catch_warnings(record=True) as held:
        warnings.simplefilter("default")
        try:
            code = command()
        except BadInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for w in held:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return code


def finite_float(text: str) -> float:
    """argparse `type=` for float options: nan and inf are refused, naming the value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """argparse `type=` for counts that must be at least 1 (`--limit -3` would drop rows)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def read_input(path: Path, parse: Callable[[str], Any] = str, what: str = "file") -> Any:
    """Read a text input and parse it; any problem is one BadInput naming the file.

    `parse` is the library's own parser (`tomllib.loads`, `json.loads`, `yaml.safe_load`); a
    random, truncated or binary file makes it raise, which becomes one line here.
    """
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path} is a folder, not a {what}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path} as text: {_first_line(exc)}") from None
    try:
        return parse(text)
    except Exception as exc:  # every parser has its own error type; all mean a corrupt file
        raise BadInput(f"{path} is not a valid {what}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_out(path: Path, *, folder: bool, keeps: Callable[[Path], bool] | None = None) -> Path:
    """Refuse an output path before the work starts; create nothing.

    folder=True: `path` must be a folder or not exist yet. folder=False (a file): `path` must not
    be a folder, and an existing file is overwritten only if `keeps(path)` says this command
    wrote it (never a file of the user's). Either way the nearest existing parent must let us
    create a file, which is tried for real (`os.access` says yes to root even under /proc).
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise BadInput(f"{path} is a file, expected a folder")
        if not folder and path.is_dir():
            raise BadInput(f"{path} is a folder, expected a file")
        if not folder and keeps is not None and not keeps(path):
            raise BadInput(f"{path} exists and was not written by this command; not overwriting it")
    parent = path if folder and path.is_dir() else path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput(f"cannot create {path}: {parent} is a file")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
