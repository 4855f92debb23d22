"""Checker for exercise 03: same seed -> same weights_sha256; another seed -> other weights."""

import importlib.util
from pathlib import Path

import pytest
import torch
from modular_training.data import load_splits
from modular_training.receipt import weights_sha256

HERE = Path(__file__).parent


def load_starter():
    spec = importlib.util.spec_from_file_location("exercise03_train", HERE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_runs_with_the_same_seed_match():
    train = load_starter().train
    first = weights_sha256(train(0).state_dict())
    torch.rand(7)  # something else in the program draws random numbers in between
    second = weights_sha256(train(0).state_dict())
    if first != second:
        pytest.fail(
            f"train(0) twice gave different weights ({first[:12]} vs {second[:12]}). Something "
            "random is not drawn from `seed` yet: the initial weights and dropout come from "
            "torch's global RNG, the shuffle order from the DataLoader. See the hint in README.md.",
            pytrace=False,
        )
    other = weights_sha256(train(1).state_dict())
    if other == first:
        pytest.fail(
            "train(1) gave the same weights as train(0): the seed must come from the `seed` "
            "argument, not from a constant.",
            pytrace=False,
        )
    splits = load_splits()
    model = train(0)
    with torch.no_grad():
        accuracy = (model(splits.x_test).argmax(1) == splits.y_test).float().mean().item()
    if accuracy < 0.8:
        pytest.fail(
            f"test accuracy {accuracy:.3f} after 2 epochs: the model no longer learns",
            pytrace=False,
        )
