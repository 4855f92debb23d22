"""Checker for exercise 02: config.yaml sets the width to 64, a flag overrides it, it is recorded."""

import importlib.util
from pathlib import Path

import pytest
from jsonargparse import ArgumentError
from lightning.pytorch.cli import LightningCLI
from modular_training.step3_lightning import DigitsDataModule

HERE = Path(__file__).parent


def load_model_class():
    spec = importlib.util.spec_from_file_location("exercise02_model", HERE / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SmallClassifier


def build(*flags: str):
    """The model LightningCLI builds from config.yaml plus flags (nothing is trained)."""
    try:
        cli = LightningCLI(
            load_model_class(),
            DigitsDataModule,
            run=False,
            args=[f"--config={HERE / 'config.yaml'}", *flags],
            save_config_callback=None,
            seed_everything_default=0,
            trainer_defaults={"logger": False, "enable_checkpointing": False},
            parser_kwargs={"exit_on_error": False},
        )
    except ArgumentError as exc:
        pytest.fail(
            f"LightningCLI refused the config or flag: {' '.join(str(exc).split())[:300]}. "
            "Is `hidden` an argument of SmallClassifier.__init__ yet?",
            pytrace=False,
        )
    return cli.model


def width(model) -> int:
    return model.net[0].out_features


def test_the_config_sets_the_width_and_a_flag_overrides_it():
    model = build()
    if width(model) != 64:
        pytest.fail(
            f"the model built from config.yaml is {width(model)} units wide, not 64: set "
            "model.hidden in config.yaml, and make SmallClassifier use its `hidden` argument.",
            pytrace=False,
        )
    if model.hparams.get("hidden") != 64:
        pytest.fail(
            "the width is not in the model's hyperparameters: call self.save_hyperparameters() "
            "with `hidden` among the __init__ arguments, so checkpoints record it.",
            pytrace=False,
        )
    overridden = build("--model.hidden=48")
    if width(overridden) != 48:
        pytest.fail(f"--model.hidden=48 gave a {width(overridden)}-wide model", pytrace=False)
