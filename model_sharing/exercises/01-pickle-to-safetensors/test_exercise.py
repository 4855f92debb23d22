"""Checker: the converted folder loads with use_safetensors=True, tensors equal, no pickle left."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never the network

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel, BertConfig, BertModel  # noqa: E402

HERE = Path(__file__).parent
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}


def learners_convert():
    spec = importlib.util.spec_from_file_location("learners_convert", HERE / "convert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert


def test_pickle_checkpoint_becomes_a_safetensors_folder(tmp_path):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip
    original = BertModel(config).eval()
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"config": config.to_dict(), "state_dict": original.state_dict()}, checkpoint)
    out = tmp_path / "converted"

    learners_convert()(checkpoint, out)

    problem = None
    try:
        loaded = AutoModel.from_pretrained(out, local_files_only=True, use_safetensors=True)
    except Exception as exc:  # OSError, ValueError, ...: say it in one line, below
        problem = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if problem:
        pytest.fail(
            f"AutoModel could not load your folder with use_safetensors=True: {problem}\n"
            "Hint: the weights must be in model.safetensors (save_pretrained writes it).",
            pytrace=False,
        )
    pickles = sorted(p.name for p in out.rglob("*") if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        pytest.fail(f"a pickle is still in your folder: {pickles}; delete it or never write it",
                    pytrace=False)  # fmt: skip
    got = loaded.state_dict()
    wrong = [
        k for k, v in original.state_dict().items() if k not in got or not torch.equal(got[k], v)
    ]
    if wrong:
        pytest.fail(f"{len(wrong)} tensors differ from the checkpoint, e.g. {wrong[0]}",
                    pytrace=False)  # fmt: skip
