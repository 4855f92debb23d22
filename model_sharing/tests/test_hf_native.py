"""The same tensors behind the transformers Auto classes: registered, saved, loaded, identical."""

from __future__ import annotations

import json

import torch
from model_sharing.classifier import load_classifier
from model_sharing.data import fixed_batch
from model_sharing.hf_native import (
    DigitsConfig,
    DigitsForImageClassification,
    from_mixin_model,
    load_native,
    register_auto_classes,
)
from model_sharing.receipt import weights_sha256
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


def test_native_model_computes_a_loss(split):
    model = DigitsForImageClassification(DigitsConfig(hidden=8))
    out = model(pixel_values=split.x_train[:4], labels=split.y_train[:4])
    assert out.logits.shape == (4, 10) and out.loss.item() > 0
