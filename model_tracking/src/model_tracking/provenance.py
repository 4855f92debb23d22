"""What to log besides the numbers, and what never to log.

Provenance: the code, environment and data identity as flat string tags every tool can store.
Secrets: tokens live in the environment and must never end up in a tracker.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import sys
from collections.abc import Iterator
from typing import Any

from model_tracking.receipt import git_info, lock_sha256

RECORDED_PACKAGES = ("torch", "numpy", "scikit-learn", "mlflow", "wandb", "tensorboard")


def provenance(data_hash: str) -> dict[str, str]:
    """Code, environment and data identity as flat string tags (every tool can store those)."""
    git = git_info()
    tags = {
        "git_commit": git["commit"] if git else "not-a-git-checkout",
        "git_dirty": str(git["dirty"]) if git else "unknown",
        "lock_sha256": lock_sha256() or "no-uv.lock",
        "data_sha256": data_hash,
        "python": platform.python_version(),
    }
    for package in RECORDED_PACKAGES:
        tags[f"version_{package}"] = importlib.metadata.version(package)
    return tags


def model_requirements() -> list[str]:
    """Pinned requirements for a logged model (the '+cu…' local version tag is not on PyPI)."""
    return [
        f"torch=={importlib.metadata.version('torch').split('+')[0]}",
        f"numpy=={importlib.metadata.version('numpy')}",
        f"mlflow=={importlib.metadata.version('mlflow')}",
    ]


# Secrets: tokens live in the environment and must never end up in a tracker.

_SECRET_NAME = re.compile(r"TOKEN|KEY|PASSWORD|SECRET", re.IGNORECASE)


def secret_values() -> list[str]:
    """Values of environment variables whose names look like credentials (WANDB_API_KEY, HF_TOKEN, ...)."""
    return [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6]


def scrub(value: Any) -> Any:
    """Replace any secret value inside strings, lists or dicts by '***' before it is logged."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    if isinstance(value, str):
        for secret in secret_values():
            value = value.replace(secret, "***")
    return value


@contextlib.contextmanager
def scrubbed_argv() -> Iterator[None]:
    """Libraries that record the command line (W&B's run metadata) see it scrubbed."""
    original = sys.argv[:]
    sys.argv[:] = scrub(original)
    try:
        yield
    finally:
        sys.argv[:] = original
