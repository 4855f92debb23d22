"""The topic's plumbing, out of the lessons' way: the command edge (bad input becomes one
`error: ...` line and exit 2), checks of numbers and output paths made before any work starts,
figures written whole, and DeepSpeed's op-build cache kept stable between runs. Read it last.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from scaling_multi_gpu.receipt import atomic_write


class BadInput(Exception):
    """Input refused before the work starts (an impossible value, a missing or damaged file)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a refused option is ONE line on stderr (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def run_at_edge(command: Callable[[], int | None]) -> int:
    """Run a command's body; BadInput becomes one `error: ...` line on stderr and exit status 2.

    A crash during the work is not bad input: it keeps its traceback and whatever was written.
    """
    try:
        return command() or 0
    except BadInput as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def finite_float(text: str) -> float:
    """argparse `type=` for every float option: nan and inf are refused (NaN passes `x <= 0`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse `type=` for --seed: an integer numpy and torch both accept (0 <= seed < 2**32)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer seed: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"seed {value} is outside 0 .. 2**32 - 1")
    return value


def require_positive(**values: float) -> None:
    """Refuse a value that is not > 0, NaN included (`not x > 0` is true for NaN, `x <= 0` is not)."""
    for name, value in values.items():
        if not value > 0:
            raise BadInput(f"--{name.replace('_', '-')} must be positive, got {value}")


def _check_writable_dir(path: Path, option: str, shown: Path) -> None:
    """Is there a folder at or above `path` in which we can really create something?

    The nearest existing ancestor must be a folder, and a temporary file must be creatable in it
    (`os.access` says yes for root even under /proc, so we try). Nothing is left behind.
    """
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise BadInput(f"{option} {shown}: {existing} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=existing, prefix=".write-check.")
    except OSError as exc:
        raise BadInput(f"{option} {shown}: cannot write in {existing} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)


def check_out(path: Path | None, option: str = "--out", kind: str = "folder") -> Path | None:
    """Check an output path BEFORE the work starts; create nothing.

    kind="folder": an existing file there is refused. kind="png": an existing file that is not a
    PNG is refused (we never overwrite what we did not write), and so is a folder.
    """
    if path is None:
        return None
    path = Path(path)
    if kind == "folder":
        if path.exists() and not path.is_dir():
            raise BadInput(f"{option} {path} is a file; it must name a folder")
        _check_writable_dir(path, option, path)
        return path
    if path.is_dir():
        raise BadInput(f"{option} {path} is a folder; it must name a .png file")
    if path.exists() and path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise BadInput(f"{option} {path} exists and is not a PNG: not overwriting it")
    _check_writable_dir(path.parent, option, path)
    return path


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure whole or not at all (the receipt's one atomic writer)."""
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def stable_deepspeed_build_cache() -> None:
    """Make DeepSpeed's JIT-compiled C++ op build once per environment, not once per run.

    DeepSpeed builds the op with whichever `ninja` comes first on PATH. Two ninja versions (the
    system's, this environment's) invalidate each other's build log and force a full rebuild
    (35 s to 2 min) on every run: always use the one installed beside this interpreter. For the
    same reason, one build folder per environment: two environments (a checkout and a copy of it,
    or two projects) sharing ~/.cache/torch_extensions rebuild it for each other.
    """
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )
    if "TORCH_EXTENSIONS_DIR" not in os.environ:
        env_id = hashlib.sha256(sys.prefix.encode()).hexdigest()[:10]
        cache = Path.home() / ".cache" / "torch_extensions" / f"env-{env_id}"
        os.environ["TORCH_EXTENSIONS_DIR"] = str(cache)
