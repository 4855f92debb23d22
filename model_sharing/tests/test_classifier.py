"""The mixin classifier learns, and its shared folder loads back bit for bit - by path or repo id."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import SEED, needs_symlinks
from model_sharing.classifier import (
    count_correct,
    load_classifier,
    train_classifier,
)
from model_sharing.data import SPLIT_SEED, fixed_batch
from model_sharing.plumbing import ShareError
from model_sharing.receipt import weights_sha256
from model_sharing.reuse import publish_to_local_hub
from safetensors import SafetensorError


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
    assert run["metrics"]["test_n"] == len(split.y_test) == 450
    loaded = load_classifier(digits_folder)
    with torch.no_grad():  # counted here, independently of count_correct
        correct = int((loaded(split.x_test).argmax(1) == split.y_test).sum())
    assert count_correct(loaded, split.x_test, split.y_test) == correct
    assert run["metrics"]["test_correct"] == correct


def test_round_trip_is_bitwise_identical(digits_folder, split):
    run = json.loads((digits_folder / "run.json").read_text())
    retrained = train_classifier(split, seed=SEED)  # same seed -> same weights as the folder
    loaded = load_classifier(digits_folder)
    assert weights_sha256(loaded.state_dict()) == run["weights_sha256"]
    assert weights_sha256(retrained.state_dict()) == run["weights_sha256"]
    x = fixed_batch(split)
    with torch.no_grad():
        assert torch.equal(loaded(x), retrained(x))


def test_another_seed_trains_other_weights_scored_on_the_same_images(digits_folder, seed1_folder):
    """The training seed moves the weights, never the split: both runs see the same test set."""
    other = seed1_folder
    run, run1 = (json.loads((f / "run.json").read_text()) for f in (digits_folder, other))
    assert run1["seed"] == SEED + 1 and run1["weights_sha256"] != run["weights_sha256"]
    assert run1["data_sha256"] == run["data_sha256"]  # hashes train and test images, in order
    assert run["config"]["split_seed"] == run1["config"]["split_seed"] == SPLIT_SEED
    card = (other / "README.md").read_text()
    assert f"split seed {SPLIT_SEED})" in card and f"random_state={SPLIT_SEED}`" in card


@needs_symlinks
def test_repo_id_loads_through_the_same_path(digits_folder, split, tmp_path):
    cache = tmp_path / "hub"
    commit = publish_to_local_hub(digits_folder, "someone/digits-mlp", cache)
    from_hub = load_classifier("someone/digits-mlp", revision=commit, cache_dir=cache)
    local = load_classifier(digits_folder)
    x = fixed_batch(split)
    with torch.no_grad():
        assert torch.equal(from_hub(x), local(x))
    assert weights_sha256(from_hub.state_dict()) == weights_sha256(local.state_dict())


def test_unknown_repo_offline_is_one_clear_error(tmp_path):
    with pytest.raises(ShareError, match="cannot load a DigitsMLP from nobody/nothing"):
        load_classifier("nobody/nothing", revision="a" * 40, cache_dir=tmp_path)


@needs_symlinks
@pytest.mark.parametrize("revision", [None, "main", "v1.0", "0123abc"])
def test_repo_id_without_a_commit_is_refused(digits_folder, tmp_path, revision):
    publish_to_local_hub(digits_folder, "someone/digits-mlp", tmp_path)
    with pytest.raises(ShareError, match="needs revision=<40-hex commit sha>"):
        load_classifier("someone/digits-mlp", revision=revision, cache_dir=tmp_path)


@needs_symlinks
def test_pickle_only_repo_is_refused(digits_folder, tmp_path):
    """The mixin would fall back to pytorch_model.bin; load_classifier fetches safetensors only."""
    pickle_only = tmp_path / "pickle-only"
    pickle_only.mkdir()
    (pickle_only / "config.json").write_bytes((digits_folder / "config.json").read_bytes())
    torch.save(load_classifier(digits_folder).state_dict(), pickle_only / "pytorch_model.bin")
    commit = publish_to_local_hub(pickle_only, "someone/pickled", tmp_path / "hub")
    with pytest.raises(ShareError, match="cannot load a DigitsMLP"):
        load_classifier("someone/pickled", revision=commit, cache_dir=tmp_path / "hub")


def test_missing_weights_are_an_error_not_random_values(folder_copy):
    """strict=True: the mixin's default (strict=False) would leave a dropped tensor random."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder_copy / "model.safetensors"))
    del tensors["net.2.bias"]
    save_file(tensors, str(folder_copy / "model.safetensors"))
    with pytest.raises(ShareError, match="net.2.bias"):
        load_classifier(folder_copy)


def test_truncated_weights_fail_to_load_with_one_clear_error(folder_copy):
    path = folder_copy / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ShareError, match="cannot load a DigitsMLP") as err:
        load_classifier(folder_copy)
    assert isinstance(err.value.__cause__, SafetensorError)  # the library's check, not ours
