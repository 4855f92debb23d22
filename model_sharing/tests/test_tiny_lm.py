"""The tiny GPT-2 learns, and its one folder reproduces the saved greedy sample anywhere."""

from __future__ import annotations

import json

import pytest
import torch
from model_sharing.receipt import weights_sha256
from model_sharing.tiny_lm import generate_corpus, greedy_sample, train_tokenizer
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer


def test_corpus_and_tokenizer_are_seeded():
    assert generate_corpus(50, 1) == generate_corpus(50, 1)
    assert generate_corpus(50, 1) != generate_corpus(50, 2)
    corpus = generate_corpus(300, 0)
    assert train_tokenizer(corpus).get_vocab() == train_tokenizer(corpus).get_vocab()


def test_folder_holds_everything_a_user_needs(lm_folder):
    names = {p.name for p in lm_folder.iterdir()}
    for needed in (
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
        "run.json",
        "sample.json",
    ):
        assert needed in names
    gen = json.loads((lm_folder / "generation_config.json").read_text())
    assert gen["do_sample"] is False


def test_lm_learns(lm_folder):
    m = json.loads((lm_folder / "run.json").read_text())["metrics"]
    assert m["last_train_loss"] < m["first_train_loss"] / 3
    # a uniform guess over ~380 tokens has perplexity ~380; the grammar allows ~2.3
    assert m["heldout_perplexity"] < 4.0
    sample = json.loads((lm_folder / "sample.json").read_text())
    assert sample["text"].startswith("the robot ") and sample["text"].endswith(" .")


def test_in_process_reload_keeps_weights_and_sample(lm_folder):
    run = json.loads((lm_folder / "run.json").read_text())
    assert weights_sha256(load_file(str(lm_folder / "model.safetensors"))) == run["weights_sha256"]
    model = AutoModelForCausalLM.from_pretrained(lm_folder)
    tok = AutoTokenizer.from_pretrained(lm_folder)
    saved = json.loads((lm_folder / "sample.json").read_text())
    assert greedy_sample(model, tok)["output_ids"] == saved["output_ids"]
    assert torch.equal(model.lm_head.weight, model.transformer.wte.weight)  # tied, saved once


def test_fresh_process_without_our_package_reproduces_the_sample(lm_folder, strangers):
    got = strangers["lm"]  # fresh_load_lm.py in a fresh interpreter, our src off the path
    saved = json.loads((lm_folder / "sample.json").read_text())
    assert got["imported_our_package"] is False
    assert got["model_class"] == "GPT2LMHeadModel"
    assert got["output_ids"] == saved["output_ids"]
    assert got["text"] == saved["text"]


@pytest.mark.slow
def test_same_seed_retrains_to_the_same_folder(lm_folder, demo_run):
    """`ms-demo` trains the tiny GPT-2 again, with the same seed, into a folder of its own."""
    again = demo_run[1] / "tiny-gpt2"
    first_run = json.loads((lm_folder / "run.json").read_text())
    again_run = json.loads((again / "run.json").read_text())
    assert again_run["command"][0] == "ms-demo" and first_run["command"][0] != "ms-demo"
    assert again_run["weights_sha256"] == first_run["weights_sha256"]
    assert again_run["data_sha256"] == first_run["data_sha256"]
    for name in ("model.safetensors", "tokenizer.json", "sample.json"):
        assert (again / name).read_bytes() == (lm_folder / name).read_bytes(), name
