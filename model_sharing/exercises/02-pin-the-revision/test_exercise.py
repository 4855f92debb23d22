"""Checker: load() returns the paper's commit after `main` moved, and refuses a pickle-only repo."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never the network

import pytest  # noqa: E402
import torch  # noqa: E402
from model_sharing.receipt import weights_sha256  # noqa: E402
from model_sharing.reuse import make_standin_repo, publish_to_local_hub  # noqa: E402

HERE = Path(__file__).parent
REPO = "lab-mate/tiny-distilbert"
PAPER_COMMIT = "3f1c0de5a2b94c7e8d6f0a1b2c3d4e5f60718293"  # as the exercise README states


def learners_load():
    spec = importlib.util.spec_from_file_location("learners_load", HERE / "load_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load


def call(load, cache):
    try:
        return load(cache), None
    except Exception as exc:  # reported below as one line
        return None, (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def test_load_returns_the_papers_commit_and_refuses_pickles(tmp_path):
    load = learners_load()
    paper = make_standin_repo(tmp_path / "paper", seed=0)
    publish_to_local_hub(paper, REPO, tmp_path / "hub", commit=PAPER_COMMIT)
    publish_to_local_hub(make_standin_repo(tmp_path / "newer", seed=1), REPO, tmp_path / "hub")

    model, problem = call(load, tmp_path / "hub")
    if problem:
        pytest.fail(f"load() failed: {problem}", pytrace=False)
    from safetensors.torch import load_file

    if weights_sha256(model.state_dict()) != weights_sha256(load_file(paper / "model.safetensors")):
        pytest.fail(
            "load() returned the weights `main` points at now, not the paper's commit.\n"
            "Hint: pass revision=<the commit in README.md> to from_pretrained.",
            pytrace=False,
        )

    # The same commit, in another cache, holding only a pickle: it must be refused.
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_bytes((paper / "config.json").read_bytes())
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    publish_to_local_hub(pickled, REPO, tmp_path / "hub-pickle", commit=PAPER_COMMIT)
    model, problem = call(load, tmp_path / "hub-pickle")
    if problem is None:
        pytest.fail(
            "load() unpickled pytorch_model.bin from a repo without safetensors weights.\n"
            "Hint: from_pretrained(..., use_safetensors=True) refuses instead.",
            pytrace=False,
        )
