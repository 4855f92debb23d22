"""Classical ML: what `mlflow.sklearn.autolog()` recorded reads back, and the logged model
predicts exactly what the in-memory one predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_tracking.digits import load_digit_splits
from model_tracking.receipt import data_sha256, weights_sha256
from model_tracking.sklearn_autolog import GRID, learned_arrays, main


def test_autolog_recorded_the_search_params_and_metrics(grid_run):
    from mlflow import MlflowClient

    uri, result = grid_run
    run = MlflowClient(uri).get_run(result.run_id)
    params, metrics = run.data.params, run.data.metrics
    # The search's settings and its result, as the in-memory search object has them.
    assert params["param_grid"] == str(GRID) and params["cv"].startswith("StratifiedKFold")
    assert (
        float(params["best_logisticregression__C"])
        == result.search.best_params_["logisticregression__C"]
    )
    assert metrics["best_cv_score"] == pytest.approx(result.search.best_score_, abs=1e-12)
    # accuracy_score(y_test, ...) after fit was logged under the variable's name.
    assert metrics["accuracy_score_x_test"] == result.test_accuracy
    assert result.test_accuracy >= 0.93
    assert run.data.tags["estimator_name"] == "GridSearchCV"
    assert run.data.tags["data_sha256"] == data_sha256(*load_digit_splits().arrays())


def test_autolog_made_one_child_run_per_grid_point(grid_run):
    import mlflow

    uri, result = grid_run
    mlflow.set_tracking_uri(uri)
    children = mlflow.search_runs(
        experiment_names=["digits-sklearn"],
        filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
    )
    cv = result.search.cv_results_
    logged = dict(zip(children["params.logisticregression__C"].astype(float),
                      children["metrics.mean_test_score"], strict=True))  # fmt: skip
    expected = dict(zip(cv["param_logisticregression__C"], cv["mean_test_score"], strict=True))
    assert logged.keys() == expected.keys() == set(GRID["logisticregression__C"])
    for c, score in expected.items():
        assert logged[c] == pytest.approx(score, abs=1e-12)


def test_logged_model_predicts_like_the_in_memory_one(grid_run):
    import mlflow

    uri, result = grid_run
    mlflow.set_tracking_uri(uri)
    loaded = mlflow.sklearn.load_model(result.model_uri)
    x = load_digit_splits().x_test.numpy()
    best = result.search.best_estimator_
    np.testing.assert_array_equal(loaded.predict(x), best.predict(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), best.predict_proba(x))
    # The receipt's weights_sha256 names the same fitted numbers as the loaded model's.
    receipt = json.loads((result.out / "run.json").read_text())
    assert receipt["weights_sha256"] == weights_sha256(learned_arrays(loaded))
    assert (result.out / receipt["weights_file"]).is_file()


def test_autolog_is_switched_off_after_the_command(grid_run):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    uri, _ = grid_run
    mlflow.set_tracking_uri(uri)
    before = len(mlflow.search_runs(search_all_experiments=True))
    split = load_digit_splits()
    LogisticRegression(max_iter=200).fit(split.x_train.numpy(), split.y_train.numpy())
    assert len(mlflow.search_runs(search_all_experiments=True)) == before


def test_bad_seed_is_one_line(tmp_path, capsys):
    code = main(["--seed", "-1", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--seed must be in" in err
    assert not (tmp_path / "out").exists()
