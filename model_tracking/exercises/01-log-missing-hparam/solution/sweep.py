"""Exercise 01: a learning-rate sweep logged to MLflow - with one hyperparameter missing.

    python sweep.py sqlite:///mlflow.db

Each run trains the digits MLP and logs its settings and its validation accuracy per epoch.
"""

from __future__ import annotations

import sys

import mlflow
import torch
from model_tracking.digits import (
    build_model,
    evaluate,
    load_digit_splits,
    seed_everything,
    train_one_epoch,
)

EXPERIMENT = "exercise-01"
LRS = (0.001, 0.01, 0.1)
EPOCHS, BATCH_SIZE, HIDDEN, SEED = 4, 64, 64, 0


def log_run(lr: float) -> None:
    generator = seed_everything(SEED)
    data = load_digit_splits()
    model = build_model(HIDDEN)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    with mlflow.start_run():
        # The learning rate changes the result more than anything else here: log it too.
        mlflow.log_params(
            {"lr": lr, "epochs": EPOCHS, "batch_size": BATCH_SIZE, "hidden": HIDDEN, "seed": SEED}
        )
        for epoch in range(1, EPOCHS + 1):
            train_one_epoch(model, optimizer, data.x_train, data.y_train, BATCH_SIZE, generator)
            mlflow.log_metric(
                "val_accuracy", evaluate(model, data.x_val, data.y_val)[1], step=epoch
            )


def main(tracking_uri: str) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(EXPERIMENT)
    for lr in LRS:
        log_run(lr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///mlflow.db")
