"""Command-line plumbing shared by the topic's commands: one `error: ...` line, never a traceback.

Nothing here is about tracking; it keeps the teaching files short.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


class UsageError(Exception):
    """Bad input: reported as one `error: ...` line and exit code 2, never a traceback."""


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print the whole usage first
        self.exit(2, f"error: {message}\n")


def parser_for(doc: str | None) -> OneLineErrorParser:
    """An argument parser whose --help shows the module docstring as written."""
    return OneLineErrorParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def run_command(body: Callable[[], int]) -> int:
    """Run a command's body; a UsageError becomes one line on stderr and exit code 2."""
    try:
        return body()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def check_tracking_uri(uri: str, timeout_s: float = 3.0) -> None:
    """Fail fast on a store MLflow cannot use; MLflow's own HTTP retries would take minutes."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as reply:
                if reply.status == 200:
                    return
                reason = f"HTTP {reply.status}"
        except (urllib.error.URLError, OSError) as exc:
            reason = str(getattr(exc, "reason", exc))
        raise UsageError(
            f"MLflow tracking server {uri} is unreachable ({reason}); start it with "
            f"`tracking-server` or use --tracking-uri {DEFAULT_TRACKING_URI}"
        )
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise UsageError(f"folder {folder} for the MLflow sqlite store does not exist")
        return
    if uri.startswith(("postgresql", "mysql", "mssql", "databricks")):
        return
    raise UsageError(
        f"unsupported MLflow tracking URI {uri!r}: use {DEFAULT_TRACKING_URI} or http://host:port "
        "(plain folders, the old file store, are not supported by this example)"
    )
