"""Each leak must inflate the score measurably; the honest estimate must match the truth.

Thresholds come from 5 seeds x the repetitions used here (see README, "Test margins")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from overfitting import leakage as L

# Smallest acceptable leak (leaky - honest, mean over the repetitions below). Measured at these
# sizes over seeds 0-4: (b) 0.026-0.046, (c) 0.436-0.458, (d2) 0.101-0.127; each threshold is
# at most 40% of the smallest measured value.
LEAK_B = 0.01
LEAK_C = 0.30
LEAK_D2 = 0.05


@pytest.fixture(scope="module")
def parts() -> dict[str, np.ndarray]:
    """Reduced repetitions of every part (seed 0), computed once for the module."""
    reps = {
        "a_esl_selection": 10,
        "b_near_duplicates": 6,
        "c_grouped": 10,
        "d1_scaling": 10,
        "d2_imputation": 10,
    }
    return {p: np.array([L.PARTS[p][3](0, r) for r in range(n)]) for p, n in reps.items()}


def test_esl_wrong_way_reports_near_zero_error_on_pure_noise(parts):
    wrong, right = parts["a_esl_selection"].mean(0)
    assert wrong < 0.2  # ESL: "a few percent"; measured 0.01-0.02
    assert 0.35 < right < 0.65  # the truth is 0.5: labels are noise


def test_near_duplicates_across_the_split_inflate_accuracy(parts):
    leaky, honest, truth = parts["b_near_duplicates"].mean(0)
    assert leaky - honest > LEAK_B
    # The honest estimate describes the group-split model, and that model on unseen digits
    # scores the same: measured honest - truth -0.014 to +0.012 over seeds 0-4 (sd ~0.01).
    assert abs(honest - truth) < 0.04


def test_kfold_on_grouped_data_recognises_subjects(parts):
    kfold, grouped, truth = parts["c_grouped"].mean(0)
    assert kfold - grouped > LEAK_C
    # The honest estimate is close to the accuracy on brand-new subjects.
    assert abs(grouped - truth) < 0.1


def test_imputing_with_the_outcome_before_the_split_inflates_accuracy(parts):
    leaky, honest, features_only = parts["d2_imputation"].mean(0)
    assert leaky - honest > LEAK_D2
    # The control separates the two mistakes: the outcome column in the imputer is the leak
    # (measured 0.104-0.128 over seeds 0-4); imputing the features before the split is not
    # (-0.007 to +0.002, sd ~0.004: 0.03 is 7 sd away).
    assert leaky - features_only > LEAK_D2
    assert abs(features_only - honest) < 0.03


def test_scaling_before_the_split_leaks_little_here(parts):
    # Unsupervised scaling sees test features but not test labels: measured leak |mean| < 0.01.
    leaky, honest = parts["d1_scaling"].mean(0)
    assert abs(leaky - honest) < 0.03


def test_cli_writes_table_figure_and_receipt(tmp_path, capsys):
    """In-process (test_receipt.py re-runs a leakage receipt in a fresh process)."""
    out = tmp_path / "leak"
    argv = ["--parts", "a_esl_selection,c_grouped", "--reps", "3", "--out", str(out)]
    assert L.main(argv) == 0
    printed = capsys.readouterr().out
    for name in ("table.csv", "table.md", "figure.png", "run.json"):
        assert (out / name).is_file(), name
    receipt = json.loads((out / "run.json").read_text())
    assert receipt["seed"] == 0 and receipt["config"]["parts"] == ["a_esl_selection", "c_grouped"]
    assert receipt["metrics"]["a_esl_selection_wrong_way"] < 0.2
    assert len(receipt["weights_sha256"]) == 64
    assert "| a_esl_selection | wrong way |" in printed


def test_same_seed_same_receipt_hash_different_seed_differs(tmp_path):
    def receipt_hash(seed: int, name: str) -> str:
        out = tmp_path / name
        L.run(["--parts", "c_grouped", "--reps", "2", "--seed", str(seed), "--out", str(out)])
        return json.loads((out / "run.json").read_text())["weights_sha256"]

    first = receipt_hash(0, "a")
    assert receipt_hash(0, "b") == first
    assert receipt_hash(1, "c") != first
