"""Checker for exercise 01: every run records its learning rate, and the runs can be ranked by it.

Run from the topic folder: `uv run pytest exercises/01-log-missing-hparam`
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent


def load_sweep():
    spec = importlib.util.spec_from_file_location("exercise_sweep", HERE / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def retrained_val_accuracy(lr: float, params: dict[str, str]) -> float:
    """Train again from nothing but what the run logged: the logged params must reproduce it."""
    from model_tracking.digits import (
        build_model,
        evaluate,
        load_digit_splits,
        seed_everything,
        train_one_epoch,
    )

    generator = seed_everything(int(params["seed"]))
    data = load_digit_splits()
    model = build_model(int(params["hidden"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(int(params["epochs"])):
        train_one_epoch(
            model, optimizer, data.x_train, data.y_train, int(params["batch_size"]), generator
        )
    return evaluate(model, data.x_val, data.y_val)[1]


def test_every_run_logs_the_learning_rate_it_trained_with(tmp_path, monkeypatch):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)  # anything the sweep writes beside it lands here
    try:
        sweep = load_sweep()
        sweep.main(uri)
    except Exception as exc:  # the learner's edit broke the script: say so in one line
        pytest.fail(f"sweep.py did not run: {type(exc).__name__}: {exc}", pytrace=False)
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(
        experiment_names=[sweep.EXPERIMENT], order_by=["metrics.val_accuracy DESC"]
    )
    if len(runs) != len(sweep.LRS):
        pytest.fail(f"expected {len(sweep.LRS)} runs, found {len(runs)}", pytrace=False)
    if "params.lr" not in runs or runs["params.lr"].isna().any():
        pytest.fail(
            "Some runs have no 'lr' param, so nobody can tell which learning rate won "
            "(tracking-compare sorts and filters on params.lr). Hint: log it inside the run, "
            "next to the other settings.",
            pytrace=False,
        )
    for run in runs.to_dict("records"):
        params = {k.removeprefix("params."): v for k, v in run.items() if k.startswith("params.")}
        if retrained_val_accuracy(float(params["lr"]), params) != run["metrics.val_accuracy"]:
            pytest.fail(
                f"run {run['run_id'][:8]} says lr={params['lr']}, but training with that lr "
                "gives a different validation accuracy: log the lr the run really used.",
                pytrace=False,
            )
    best = runs.iloc[0]
    print(f"best run: lr={best['params.lr']} val_accuracy={best['metrics.val_accuracy']:.3f}")
