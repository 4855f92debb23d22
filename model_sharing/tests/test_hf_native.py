"""The same tensors behind the transformers Auto classes: registered, saved, loaded, identical."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import needs_symlinks
from model_sharing.classifier import load_classifier
from model_sharing.data import fixed_batch
from model_sharing.hf_native import (
    DigitsConfig,
    DigitsForImageClassification,
    from_mixin_model,
    load_native,
    register_auto_classes,
)
from model_sharing.plumbing import ShareError
from model_sharing.receipt import weights_sha256
from model_sharing.reuse import publish_to_local_hub
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForImageClassification


def test_auto_classes_round_trip_is_bitwise_identical(digits_folder, split, tmp_path):
    register_auto_classes()  # idempotent
    mlp = load_classifier(digits_folder)
    native = from_mixin_model(mlp)
    native.save_pretrained(tmp_path / "native")

    config = json.loads((tmp_path / "native" / "config.json").read_text())
    assert config["model_type"] == "digits-mlp"
    assert config["architectures"] == ["DigitsForImageClassification"]
    assert (tmp_path / "native" / "model.safetensors").is_file()

    assert isinstance(AutoConfig.from_pretrained(tmp_path / "native"), DigitsConfig)
    loaded = AutoModelForImageClassification.from_pretrained(tmp_path / "native")
    assert isinstance(loaded, DigitsForImageClassification)

    run = json.loads((digits_folder / "run.json").read_text())
    assert (
        weights_sha256(loaded.state_dict()) == run["weights_sha256"]
    )  # same tensors, 2 packagings
    x = fixed_batch(split)
    with torch.no_grad():
        assert torch.equal(load_native(tmp_path / "native")(pixel_values=x).logits, mlp(x))


@needs_symlinks
def test_folder_ships_its_code_for_trust_remote_code(digits_folder, split, tmp_path, strangers):
    mlp = load_classifier(digits_folder)
    folder = tmp_path / "native"
    from_mixin_model(mlp).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModelForImageClassification"] == (
        "modeling_digits.DigitsForImageClassification"
    )
    assert (folder / "modeling_digits.py").is_file()

    # fresh_load_remote_code.py, in a fresh interpreter without our package, loaded the same
    # kind of folder from an offline Hub at a pinned commit (conftest's `strangers`)
    got = strangers["remote_code"]
    assert "contains custom code" in got["refused_without_trust"]
    assert got["model_class"] == "DigitsForImageClassification"
    assert got["imported_our_package"] is False  # the class came from the folder's file
    assert got["class_module"].endswith(f"{got['commit']}.modeling_digits")  # the pinned code
    with torch.no_grad():
        assert torch.equal(load_file(str(got["logits"]))["logits"], mlp(fixed_batch(split)))


def test_native_loss_is_the_cross_entropy_of_its_logits(digits_folder, split):
    trained = load_native_from(digits_folder)
    untrained = DigitsForImageClassification(DigitsConfig())
    x, y = split.x_test[:64], split.y_test[:64]
    with torch.no_grad():
        out = trained(pixel_values=x, labels=y)
        # cross-entropy written out: -log softmax at the true class, averaged
        by_hand = -(out.logits.log_softmax(dim=1).gather(1, y[:, None])).mean()
        assert out.loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
        # a trained model is far better than chance (log 10 = 2.30); an untrained one is not
        assert out.loss.item() < 0.5 < untrained(pixel_values=x, labels=y).loss.item()


def load_native_from(digits_folder):
    return from_mixin_model(load_classifier(digits_folder))


def test_pickle_only_folder_is_refused(digits_folder, tmp_path):
    """use_safetensors=True: a folder that only has pytorch_model.bin (a pickle) does not load."""
    folder = tmp_path / "pickle-only"
    native = load_native_from(digits_folder)
    native.save_pretrained(folder)
    torch.save(native.state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ShareError, match="cannot load"):
        load_native(folder)


@needs_symlinks
def test_repo_id_needs_a_commit(digits_folder, tmp_path):
    folder = tmp_path / "native"
    load_native_from(digits_folder).save_pretrained(folder)
    commit = publish_to_local_hub(folder, "someone/digits-native", tmp_path / "hub")
    for unpinned in (None, "main"):
        with pytest.raises(ShareError, match="needs revision=<40-hex commit sha>"):
            load_native("someone/digits-native", revision=unpinned, cache_dir=tmp_path / "hub")
    model = load_native("someone/digits-native", revision=commit, cache_dir=tmp_path / "hub")
    assert weights_sha256(model.state_dict()) == weights_sha256(folder_state(folder))


def folder_state(folder):
    return load_file(str(folder / "model.safetensors"))
