"""The same tensors behind the transformers Auto classes: registered, saved, loaded, identical."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from conftest import run_python
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
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForImageClassification

HERE = Path(__file__).resolve().parent


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


def test_folder_ships_its_code_for_trust_remote_code(digits_folder, split, tmp_path):
    mlp = load_classifier(digits_folder)
    folder = tmp_path / "native"
    from_mixin_model(mlp).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModelForImageClassification"] == (
        "modeling_digits.DigitsForImageClassification"
    )
    assert (folder / "modeling_digits.py").is_file()

    x = fixed_batch(split)
    save_file({"x": x.contiguous()}, str(tmp_path / "x.safetensors"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # our src off the path
    proc = run_python(
        str(HERE / "fresh_load_remote_code.py"),
        str(folder),
        str(tmp_path / "x.safetensors"),
        str(tmp_path / "logits.safetensors"),
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "contains custom code" in got["refused_without_trust"]
    assert got["model_class"] == "DigitsForImageClassification"
    assert got["imported_our_package"] is False  # the class came from the folder's file
    with torch.no_grad():
        assert torch.equal(load_file(str(tmp_path / "logits.safetensors"))["logits"], mlp(x))


def test_native_model_computes_a_loss(split):
    model = DigitsForImageClassification(DigitsConfig(hidden=8))
    out = model(pixel_values=split.x_train[:4], labels=split.y_train[:4])
    assert out.logits.shape == (4, 10) and out.loss.item() > 0
