"""Convert a pickle checkpoint ({"config": dict, "state_dict": tensors}) into a model folder."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel


def convert(checkpoint: Path, out: Path) -> None:
    # weights_only=True: only tensors and plain data are unpickled; anything else is refused.
    ckpt = torch.load(checkpoint, weights_only=True)
    config = AutoConfig.for_model(**ckpt["config"])  # model_type picks the config class
    model = AutoModel.from_config(config)
    model.load_state_dict(ckpt["state_dict"], strict=True)  # every tensor, or an error
    model.save_pretrained(out)  # config.json + model.safetensors, no pickle
