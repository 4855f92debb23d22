"""`repro-check PATH`: repo-review with only this plugin's checks (RC...), same options and formats.

Exit codes are repo-review's: 0 all passed, 3 a check failed; a path that is not a folder, or a
pyproject.toml that is not TOML, or an unknown option, is one `error:` line and exit 2 (repo-review shows a
traceback, or its usage block).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import NoReturn
from unittest import mock

from repo_review.__main__ import main as repo_review_main

TAKES_VALUE = {"--format", "--stderr", "--show", "--select", "--ignore", "--extend-select"}
TAKES_VALUE |= {"--extend-ignore", "--package-dir", "-p", "--log-level"}


def one_line_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """argparse's `error`, as one line instead of the usage block and the message."""
    print(f"error: repro-check: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    for before, arg in zip(["", *args], args, strict=False):
        if (
            arg.startswith("-")
            or before in TAKES_VALUE
            or arg.startswith("gh:")
            or Path(arg).is_dir()
        ):
            continue
        if Path(arg).name != "pyproject.toml" or not Path(arg).is_file():
            print(f"error: {arg}: not a folder", file=sys.stderr)
            raise SystemExit(2)
    for arg in args:
        pyproject = Path(arg) if arg.endswith("pyproject.toml") else Path(arg) / "pyproject.toml"
        if not arg.startswith("-") and pyproject.is_file():
            try:
                tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                print(f"error: {pyproject}: not valid TOML ({exc})", file=sys.stderr)
                raise SystemExit(2) from None
    if not any(a == "--select" or a.startswith("--select=") for a in args):
        args = ["--select", "RC", *args]
    # repo-review builds a plain argparse parser inside its main(): for this call, its errors
    # are one line.
    with mock.patch.object(argparse.ArgumentParser, "error", one_line_error):
        repo_review_main(args)
