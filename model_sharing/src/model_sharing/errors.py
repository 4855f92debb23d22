"""One exception type for bad input, so every CLI can print one clear line and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Callable


class ShareError(Exception):
    """A problem the user can fix (missing file, corrupted weights, no token): not a bug."""


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a CLI body; turn ShareError and OSError into `error: ...` on stderr and exit code 2."""
    try:
        return main(argv)
    except ShareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. --out names an existing file, or a folder we may not write
        print(f"error: {exc}", file=sys.stderr)
        return 2
