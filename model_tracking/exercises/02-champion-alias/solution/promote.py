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
    # The newest version is not necessarily the best: rank by the metric each version's run
    # logged (selection on validation data; the test split stays for reporting).
    chosen = max(
        versions, key=lambda version: client.get_run(version.run_id).data.metrics["val_accuracy"]
    )
    client.set_registered_model_alias(name, "champion", chosen.version)
    return int(chosen.version)


def load_champion(name: str = NAME):
    """The model a deployment would serve today."""
    # `models:/<name>@<alias>` is resolved when loading: move the alias, and this follows.
    return mlflow.pytorch.load_model(f"models:/{name}@champion")
