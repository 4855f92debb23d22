"""Convert a pickle checkpoint ({"config": dict, "state_dict": tensors}) into a model folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def convert(checkpoint: Path, out: Path) -> None:
    # weights_only=True: only tensors and plain data are unpickled; anything else is refused.
    ckpt = torch.load(checkpoint, weights_only=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(ckpt["config"], indent=2))
    # TODO (exercise): this writes the weights as a pickle again. Write them so that
    # AutoModel.from_pretrained(out, use_safetensors=True) loads them, and leave no pickle.
    torch.save(ckpt["state_dict"], out / "pytorch_model.bin")
