"""Load the lab-mate's model that the paper used."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModel

REPO = "lab-mate/tiny-distilbert"


def load(cache_dir: Path):
    # TODO (exercise): this loads whatever `main` is today. Pin the commit the paper names
    # (README.md) and accept safetensors weights only.
    return AutoModel.from_pretrained(REPO, cache_dir=cache_dir)
