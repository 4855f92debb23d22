"""One way for every command to fail on bad input: one `error: ...` line on stderr, exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable


class UsageError(Exception):
    """Bad input from the user (unknown option value, missing file): reported, not traced."""


def run_cli(body: Callable[[], int | None]) -> int:
    """Run a command's body; turn a UsageError into one clear line and exit status 2."""
    try:
        return body() or 0
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
