"""Where things live: the topic folder, its example project and the default output folder."""

from __future__ import annotations

from pathlib import Path

# src/environments/paths.py -> the topic folder (pyproject.toml, uv.lock, example_project/).
TOPIC_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = TOPIC_ROOT / "example_project"
OUTPUTS = TOPIC_ROOT / "outputs"


class UsageError(Exception):
    """Bad input (missing or unreadable file, impossible value): reported as one `error:` line, exit 2."""
