"""The tiny GPT-2 learns, and its one folder reproduces the saved greedy sample anywhere."""

from __future__ import annotations

import json

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


def test_same_seed_retrains_to_the_same_folder(lm_folder, tmp_path):
    from conftest import SEED
    from model_sharing.tiny_lm import share_lm

    sample = share_lm(tmp_path / "again", seed=SEED)
    first = json.loads((lm_folder / "run.json").read_text())
    again = json.loads((tmp_path / "again" / "run.json").read_text())
    assert again["weights_sha256"] == first["weights_sha256"]
    assert again["data_sha256"] == first["data_sha256"]
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (
        lm_folder / "tokenizer.json"
    ).read_bytes()
    assert sample == json.loads((lm_folder / "sample.json").read_text())
