"""Reusing a published model: the critical reading finds real gaps, the sha256 check can refuse,
a pinned load returns that commit's weights even after `main` moved; and sharing more than
weights: a large model's structure from its config alone, a dataset card, both cards' licences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import needs_symlinks
from huggingface_hub import DatasetCard, ModelCard
from model_sharing.beyond_weights import (
    MISTRAL,
    digits_dataset_card,
    licence_problems,
    parameter_count,
    structure_from_config,
)
from model_sharing.plumbing import ShareError
from model_sharing.receipt import sha256_file, weights_sha256
from model_sharing.reuse import (
    DISTILBERT,
    card_gaps,
    download_verified,
    hub_listed_sha256,
    load_pinned,
    make_standin_repo,
    publish_to_local_hub,
    read_config,
)
from safetensors.torch import load_file
from transformers import AutoModel

REPO = "stand-in/distilbert-base-uncased-tiny"
TOPIC = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Two published versions of one repo: v1 (the paper's commit), then v2 moved `main`."""
    root = tmp_path_factory.mktemp("reuse")
    v1 = publish_to_local_hub(make_standin_repo(root / "v1", seed=0), REPO, root / "hub")
    v2 = publish_to_local_hub(make_standin_repo(root / "v2", seed=1), REPO, root / "hub")
    return {"cache": root / "hub", "v1": v1, "v2": v2, "root": root}


def test_config_reading_names_what_the_published_config_says():
    rows = {field: value for field, value, _ in read_config(DISTILBERT / "config.json")}
    assert rows["architectures"] == ["DistilBertForMaskedLM"]
    assert rows["max_position_embeddings"] == 512 and rows["vocab_size"] == 30522
    assert rows["transformers_version"] == "(not stated)"  # left out of our copy, see SOURCE.md


def test_the_published_card_has_gaps_a_reviewer_would_ask_about():
    gaps = card_gaps(DISTILBERT / "README.md")
    assert any("no model-index" in g for g in gaps)
    assert any("no n and no interval" in g for g in gaps)
    assert any("how-to code" in g and "pins no revision=" in g for g in gaps)
    assert not any("license" in g or "datasets" in g or "limitations" in g for g in gaps)


def test_our_card_answers_those_questions(digits_folder):
    assert card_gaps(digits_folder / "README.md") == []


@needs_symlinks
def test_listed_sha256_is_the_weights_sha256(hub):
    listed = hub_listed_sha256(
        REPO, "model.safetensors", revision=hub["v1"], cache_dir=hub["cache"]
    )
    assert listed == sha256_file(hub["root"] / "v1" / "model.safetensors")
    path = download_verified(REPO, revision=hub["v1"], cache_dir=hub["cache"])
    assert sha256_file(path) == listed


@needs_symlinks
def test_modified_bytes_are_refused(hub, tmp_path):
    import shutil

    cache = shutil.copytree(hub["cache"], tmp_path / "hub", symlinks=True)
    path = download_verified(REPO, revision=hub["v1"], cache_dir=cache)
    blob = path.resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the last weight
    blob.write_bytes(bytes(data))
    with pytest.raises(ShareError, match="the Hub lists .*do not use these bytes"):
        download_verified(REPO, revision=hub["v1"], cache_dir=cache)


@needs_symlinks
def test_pinned_load_keeps_the_papers_weights_after_main_moved(hub):
    v1 = weights_sha256(load_file(hub["root"] / "v1" / "model.safetensors"))
    v2 = weights_sha256(load_file(hub["root"] / "v2" / "model.safetensors"))
    assert v1 != v2
    pinned = load_pinned(REPO, revision=hub["v1"], cache_dir=hub["cache"])
    assert weights_sha256(pinned.state_dict()) == v1
    # what an unpinned snippet gets: whatever main is now
    latest = AutoModel.from_pretrained(
        REPO, revision="main", cache_dir=hub["cache"], use_safetensors=True
    )
    assert weights_sha256(latest.state_dict()) == v2
    with pytest.raises(ShareError, match="needs revision=<40-hex commit sha>"):
        load_pinned(REPO, revision="main", cache_dir=hub["cache"])
    assert isinstance(pinned, torch.nn.Module) and type(pinned).__name__ == "DistilBertModel"


def test_a_large_models_structure_comes_from_its_config_alone():
    """Mistral-7B's config.json builds the whole architecture on the meta device: its size by
    transformers' count equals the size worked out by hand from the config's numbers."""
    config = json.loads((MISTRAL / "config.json").read_text())
    model = structure_from_config(MISTRAL)
    assert type(model).__name__ == config["architectures"][0]
    assert {p.device.type for p in model.parameters()} == {"meta"}  # no memory behind them
    d, ff, layers = (
        config["hidden_size"],
        config["intermediate_size"],
        config["num_hidden_layers"],
    )
    kv = d // config["num_attention_heads"] * config["num_key_value_heads"]
    attention = 2 * d * d + 2 * d * kv  # q and o: d x d; k and v: d x kv (grouped queries)
    per_layer = attention + 3 * d * ff + 2 * d  # SwiGLU's three matrices, two RMSNorms
    by_hand = layers * per_layer + 2 * config["vocab_size"] * d + d  # untied in/out embeddings
    assert parameter_count(model) == by_hand == 7_241_732_096
    notebook = (TOPIC / "notebooks" / "02-reusing-a-model.ipynb").read_text()
    assert "7,241,732,096" in notebook  # the number the lesson quotes


def test_dataset_card_from_the_template_and_both_licences_checked(tmp_path):
    card = digits_dataset_card(1347, 450, split_seed=0)
    card.save(tmp_path / "README.md")
    loaded = DatasetCard.load(tmp_path / "README.md")
    assert loaded.data.license == "cc-by-4.0"
    assert "# Dataset Card for scikit-learn digits" in loaded.text
    assert "1347 training and 450 test images" in loaded.text
    model_card = ModelCard.load(DISTILBERT / "README.md")
    assert licence_problems(model_card, loaded) == []
    loaded.data.license = None  # a planted removal in each card is caught
    model_card.data.license = "other"
    assert licence_problems(model_card, loaded) == [
        "the model card says license: other without a license_name",
        "the dataset card states no license",
    ]
