"""Reusing a published model: the critical reading finds real gaps, the sha256 check can refuse,
and a pinned load returns that commit's weights even after `main` moved."""

from __future__ import annotations

import pytest
import torch
from conftest import needs_symlinks
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
