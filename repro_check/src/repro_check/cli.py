"""`repro-check PATH`: repo-review with only this plugin's checks (RC...), same options and formats.

Exit codes are repo-review's: 0 all passed, 3 a check failed; a path that is not a folder is
one `error:` line and exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from repo_review.__main__ import main as repo_review_main

TAKES_VALUE = {"--format", "--stderr", "--show", "--select", "--ignore", "--extend-select"}
TAKES_VALUE |= {"--extend-ignore", "--package-dir", "-p", "--log-level"}


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
    if not any(a == "--select" or a.startswith("--select=") for a in args):
        args = ["--select", "RC", *args]
    repo_review_main(args)
