"""Checker for exercise 02: @champion points at the best version, and loading follows the alias.

Run from the topic folder: `uv run pytest exercises/02-champion-alias`
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
NAME = "digits-mlp"


def load_promote():
    spec = importlib.util.spec_from_file_location("exercise_promote", HERE / "promote.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(lr: float):
    from model_tracking.digits import (
        build_model,
        evaluate,
        load_digit_splits,
        seed_everything,
        train_one_epoch,
    )

    generator = seed_everything(0)
    data = load_digit_splits()
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(3):
        train_one_epoch(model, optimizer, data.x_train, data.y_train, 64, generator)
    return model, evaluate(model, data.x_val, data.y_val)[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Three registered versions; the best one is neither the first nor the newest."""
    import mlflow

    tmp = tmp_path_factory.mktemp("registry")
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mlflow.set_experiment("exercise-02")
    trained = sorted((train(lr) for lr in (0.001, 0.01, 0.1)), key=lambda t: t[1])
    worst, middle, best = trained
    from model_tracking.digits import load_digit_splits

    # More than one row: the exported (pt2) graph keeps the batch size dynamic.
    x = load_digit_splits().x_test[:5]
    versions = {}
    assert worst[1] < middle[1] < best[1], "the checker needs three distinct accuracies"
    for role, (model, val_accuracy) in {"middle": middle, "best": best, "worst": worst}.items():
        with mlflow.start_run():
            mlflow.log_metric("val_accuracy", val_accuracy)
            info = mlflow.pytorch.log_model(
                model,
                name="model",
                input_example=x.numpy(),
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                serialization_format="pt2",
                registered_model_name=NAME,
            )
        versions[role] = (int(info.registered_model_version), model)
    return mlflow.MlflowClient(), versions


def outputs(model) -> torch.Tensor:
    from model_tracking.digits import load_digit_splits

    with torch.no_grad():
        return model(load_digit_splits().x_test)


def test_champion_is_the_best_version_and_loads_by_alias(registry):
    client, versions = registry
    promote = load_promote()
    best_version, best_model = versions["best"]
    returned = promote.promote_best(client, NAME)
    champion = int(client.get_model_version_by_alias(NAME, "champion").version)
    if champion != best_version:
        pytest.fail(
            f"@champion points at version {champion}, but the best validation accuracy is "
            f"version {best_version}'s. The newest version is not always the best: compare the "
            "val_accuracy of each version's run.",
            pytrace=False,
        )
    if returned != best_version:
        pytest.fail(f"promote_best returned {returned}, not the version it promoted", pytrace=False)
    if not torch.equal(outputs(promote.load_champion(NAME)), outputs(best_model)):
        pytest.fail("load_champion() does not load the champion's model", pytrace=False)

    # A rollback: someone moves @champion by hand. Loading must follow the alias.
    other_version, other_model = versions["worst"]
    client.set_registered_model_alias(NAME, "champion", str(other_version))
    if not torch.equal(outputs(promote.load_champion(NAME)), outputs(other_model)):
        pytest.fail(
            "After @champion moved, load_champion() still loads the old model: load "
            f"'models:/{NAME}@champion' instead of a fixed version number.",
            pytrace=False,
        )
