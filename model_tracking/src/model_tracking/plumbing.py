"""The command edge shared by the topic's commands: bad input is one `error:` line and exit 2.

Nothing here is about tracking; it keeps the teaching files short. Every check runs before
the work starts, so a typo costs a second, never a run, and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


class BadInput(Exception):
    """Input refused before the work starts: one `error: ...` line and exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (`error: <prog>: <message>`), not a usage block."""

    def error(self, message: str) -> None:
        self.exit(2, f"error: {self.prog}: {message}\n")


def parser_for(doc: str | None, prog: str) -> OneLineParser:
    """A one-line-error parser whose --help shows the module docstring as written."""
    return OneLineParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def run_at_edge(command: Callable[[], int], prog: str) -> int:
    """Run a command; BadInput becomes one line on stderr and exit code 2.

    Anything else is a crash during the work, not bad input: it keeps its traceback (and the
    command keeps what a user could resume from, see `train.run_training`).
    """
    try:
        return command()
    except BadInput as exc:
        print(f"error: {prog}: {exc}", file=sys.stderr)
        return 2


def finite_float(text: str) -> float:
    """argparse `type=` for float options: nan and inf are refused (NaN passes every `x <= 0`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def check_writable_folder(path: Path, option: str) -> None:
    """`path` is, or can become, a folder we may write in: checked without creating anything."""
    path = Path(path).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise BadInput(f"{option} {path}: {existing} is a file, not a folder")
    # Try it: os.access says yes to root even under /proc, where nothing can be created.
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".write-probe-")
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot write in {existing} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def check_out(path: Path, option: str = "--out", replaceable: Iterable[str] = ()) -> Path:
    """Refuse an output folder before the work starts.

    A folder that exists may only be replaced when it is empty or when it is a previous run of
    this command: a `run.json` of this topic and nothing but the names in `replaceable`.
    Anything else in it the command did not write, so it is never deleted.
    """
    path = Path(path)
    check_writable_folder(path, option)
    if path.is_dir() and any(path.iterdir()):
        names = {p.name for p in path.iterdir()}
        if not (names <= set(replaceable) and is_run_folder(path)):
            raise BadInput(
                f"{option} {path} already holds files this command did not write; "
                "choose a new folder (nothing was deleted)"
            )
    return path


def publish(staging: Path, out: Path, replaceable: Iterable[str]) -> None:
    """Rename a finished run folder to `out`; an earlier run of the same command is replaced."""
    try:
        check_out(out, replaceable=replaceable)  # again: files may have appeared meanwhile
    except BadInput as exc:
        raise BadInput(f"{exc}; the new run is kept in {staging}") from None
    if not out.exists():
        staging.rename(out)
        return
    previous = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.previous-"))
    out.rename(previous / out.name)
    staging.rename(out)
    shutil.rmtree(previous)  # an empty folder or a run this command wrote (check_out)


def is_run_folder(path: Path) -> bool:
    """True when `path/run.json` is a receipt this topic wrote."""
    try:
        return json.loads((path / "run.json").read_text()).get("topic") == "model_tracking"
    except (OSError, ValueError, AttributeError):
        return False


def check_file_out(path: Path, option: str) -> Path:
    """An output *file*: not a folder, and its folder can be created and written in."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{option} {path} is a folder, not a file")
    check_writable_folder(path.parent, option)
    return path


def check_tracking_uri(uri: str, timeout_s: float = 3.0) -> None:
    """Fail fast on a store MLflow cannot use.

    MLflow's own HTTP client retries an unreachable server MLFLOW_HTTP_REQUEST_MAX_RETRIES
    times (default 7) with growing waits, each request up to MLFLOW_HTTP_REQUEST_TIMEOUT
    seconds (default 120): minutes before the first error. Set those two environment variables
    lower in your own scripts; here one plain request to /health decides in seconds.
    """
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as reply:
                if reply.status == 200:
                    return
                reason = f"HTTP {reply.status}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", exc))
        raise BadInput(
            f"MLflow tracking server {uri} is unreachable ({reason}); start it with "
            f"`tracking-server` or use --tracking-uri {DEFAULT_TRACKING_URI}"
        )
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        if database.is_dir():
            raise BadInput(f"--tracking-uri {uri}: {database} is a folder, not a database file")
        if not database.parent.is_dir():
            raise BadInput(f"folder {database.parent} for the MLflow sqlite store does not exist")
        if not database.exists():  # MLflow would create it: can it?
            check_writable_folder(database.parent, "--tracking-uri")
        return
    if uri.startswith(("postgresql", "mysql", "mssql", "databricks")):
        return
    raise BadInput(
        f"unsupported MLflow tracking URI {uri!r}: use {DEFAULT_TRACKING_URI} or http://host:port "
        "(plain folders, the old file store, are not supported by this example)"
    )
