"""The topic's plumbing, out of the lessons' way: one `error: ...` line and exit 2 on bad input,
atomic text writes, and DeepSpeed's op-build cache kept stable between runs."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path


class UsageError(Exception):
    """Bad input from the user (unknown option value, missing file): reported, not traced."""


def run_cli(body: Callable[[], int | None]) -> int:
    """Run a command's body; turn a UsageError into one clear line and exit status 2."""
    try:
        return body() or 0
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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
