"""The command edge of site-build and slides-check: one `error:` line and exit 2 for bad input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn


class BadInput(Exception):
    """Input refused before the work starts."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def run_at_edge(command: Callable[[], int]) -> int:
    """Run the command: BadInput becomes one `error:` line and exit 2; a failed build exits 1."""
    try:
        return command()
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1


def check_out(option: str, path: Path) -> Path:
    """An output folder: refuse an existing file, or a folder that cannot be created (tried for
    real: os.access says yes to root even under /proc)."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{option} {path} is an existing file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{option} {path} cannot be created ({exc.strerror})") from None
    return path
