"""Load the lab-mate's model that the paper used."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModel

REPO = "lab-mate/tiny-distilbert"
PAPER_COMMIT = "3f1c0de5a2b94c7e8d6f0a1b2c3d4e5f60718293"  # from the paper: a commit cannot move


def load(cache_dir: Path):
    return AutoModel.from_pretrained(
        REPO, revision=PAPER_COMMIT, cache_dir=cache_dir, use_safetensors=True
    )
