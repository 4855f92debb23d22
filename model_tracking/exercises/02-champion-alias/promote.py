"""Exercise 02: point @champion at the best registered version, and load the model by alias.

The registry `digits-mlp` holds several versions. Whoever deploys should load "the champion"
and never need to know its version number.
"""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient

NAME = "digits-mlp"


def promote_best(client: MlflowClient, name: str = NAME) -> int:
    """Set the alias `champion` on the best version (by its run's val_accuracy); return it."""
    versions = client.search_model_versions(f"name='{name}'")
    # TODO (exercise): the newest version is not necessarily the best one. Choose the version
    # whose run has the highest val_accuracy (each version knows its run: version.run_id).
    chosen = max(versions, key=lambda version: int(version.version))
    client.set_registered_model_alias(name, "champion", chosen.version)
    return int(chosen.version)


def load_champion(name: str = NAME):
    """The model a deployment would serve today."""
    # TODO (exercise): load through the alias, so that moving @champion changes what loads.
    return mlflow.pytorch.load_model(f"models:/{name}/1")
