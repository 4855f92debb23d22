"""The command edge of this topic: reading notebooks, running kernels, one error line.

Nothing here is the lesson. Every command parses its flags with `OneLineParser`, reads notebooks
through `read_notebook`, checks outputs with `check_out` before any kernel starts, and runs
inside `run_at_edge`: bad input (a missing file, JSON that is not a notebook, a kernel that will
not start, an impossible value) becomes one `error: ...` line on stderr and exit 2, never a
traceback, and nothing half-written is left (files are written with the receipt's
`atomic_write`).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import nbformat
from nbformat import NotebookNode

UNUSABLE = 2  # exit code for bad input, the same in every command of the repository


class BadInput(Exception):
    """Input refused before the work starts: reported as one `error:` line, exit 2."""


class NotebookUnusable(BadInput):
    """The notebook cannot be used at all (missing, not JSON, not a notebook, kernel won't run)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a wrong flag is one `error: <prog>: <message>` line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(UNUSABLE)


def run_at_edge(command: Callable[[], int]) -> int:
    """Run a command; BadInput becomes one `error:` line and exit 2.

    Library warnings (nbformat's MissingIDFieldWarning, ...) are held back and shown only if the
    command goes on to succeed, so nothing prints before the error line of a refused input.
    """
    with warnings.catch_warnings(record=True) as held:
        warnings.simplefilter("default")
        try:
            code = command()
        except BadInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return UNUSABLE
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
    """argparse `type=` for limits that must be at least 1 (`--timeout 0` is not "no limit")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


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


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate; any problem becomes one NotebookUnusable with a readable reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookUnusable(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookUnusable(f"cannot read {path}: {exc}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        first = (exc.message.splitlines() or ["invalid"])[0]
        raise NotebookUnusable(f"{path} is not a valid notebook: {first}") from None
    except Exception as exc:  # nbformat raises several types for non-notebook JSON
        # Its messages quote the file's start over several lines: keep the first one.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookUnusable(f"{path} is not a valid notebook: {reason}") from None
    return nb


def is_notebook(path: Path) -> bool:
    """A file a command may overwrite: a notebook (an earlier result), never another file."""
    try:
        read_notebook(path)
    except NotebookUnusable:
        return False
    return True


def execute_in_kernel(client, what: str = "the run") -> None:
    """`client.execute()` of an nbclient NotebookClient, its failures as NotebookUnusable."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        # The kernel's own log (e.g. its TCP notice) is not notebook output: keep it off reports.
        client.execute(stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        raise NotebookUnusable(
            f"no Jupyter kernel named {client.kernel_name!r} (try --kernel python3)"
        ) from None
    except CellTimeoutError:
        raise NotebookUnusable(
            f"a cell ran longer than --timeout {client.timeout} s in {what}"
        ) from None
    except DeadKernelError as exc:
        raise NotebookUnusable(f"the kernel died during {what}: {exc}") from None
    except Exception as exc:  # e.g. the kernel's interpreter is missing or cannot start
        raise NotebookUnusable(
            f"could not run kernel {client.kernel_name!r}: {type(exc).__name__}: {exc}"
        ) from None


def python3_kernel_is_this_interpreter(folder: Path) -> None:
    """Make kernel "python3" start *this* interpreter (the topic's), even where a cluster or a
    user installed another "python3" kernelspec: JUPYTER_PATH is searched before the others."""
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(Path(folder) / "kernels" / "python3")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(folder), os.environ.get("JUPYTER_PATH")])
    )
