"""The mixin classifier learns, and its shared folder loads back bit for bit - by path or repo id."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import SEED, populate_hub_cache
from model_sharing.classifier import accuracy, load_classifier, train_classifier
from model_sharing.data import fixed_batch
from model_sharing.errors import ShareError
from model_sharing.receipt import weights_sha256


def test_folder_has_the_hub_layout(digits_folder):
    names = {p.name for p in digits_folder.iterdir()}
    assert names == {"config.json", "model.safetensors", "README.md", "run.json"}
    assert json.loads((digits_folder / "config.json").read_text()) == {
        "n_features": 64,
        "hidden": 64,
        "n_classes": 10,
    }


def test_model_learns(digits_folder, split):
    run = json.loads((digits_folder / "run.json").read_text())
    assert run["metrics"]["test_accuracy"] >= 0.9
    assert accuracy(load_classifier(digits_folder), split.x_test, split.y_test) == pytest.approx(
        run["metrics"]["test_accuracy"]
    )


def test_round_trip_is_bitwise_identical(digits_folder, split):
    run = json.loads((digits_folder / "run.json").read_text())
    retrained = train_classifier(split, seed=SEED)  # same seed -> same weights as the folder
    loaded = load_classifier(digits_folder)
    assert weights_sha256(loaded.state_dict()) == run["weights_sha256"]
    assert weights_sha256(retrained.state_dict()) == run["weights_sha256"]
    x = fixed_batch(split)
    with torch.no_grad():
        assert torch.equal(loaded(x), retrained(x))


def test_different_seed_gives_different_weights(digits_folder, split):
    run = json.loads((digits_folder / "run.json").read_text())
    other = train_classifier(split, seed=SEED + 1, epochs=2)
    assert weights_sha256(other.state_dict()) != run["weights_sha256"]


def test_repo_id_loads_through_the_same_path(digits_folder, split, tmp_path):
    cache = tmp_path / "hub"
    populate_hub_cache(digits_folder, "someone/digits-mlp", cache)
    from_hub = load_classifier("someone/digits-mlp", cache_dir=cache)
    local = load_classifier(digits_folder)
    x = fixed_batch(split)
    with torch.no_grad():
        assert torch.equal(from_hub(x), local(x))
    assert weights_sha256(from_hub.state_dict()) == weights_sha256(local.state_dict())


def test_unknown_repo_offline_is_one_clear_error(tmp_path):
    with pytest.raises(ShareError, match="cannot load a DigitsMLP from nobody/nothing"):
        load_classifier("nobody/nothing", cache_dir=tmp_path)


def test_truncated_weights_fail_to_load_with_one_clear_error(folder_copy):
    path = folder_copy / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ShareError, match="cannot load a DigitsMLP .*incomplete metadata"):
        load_classifier(folder_copy)
