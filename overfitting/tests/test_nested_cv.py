"""The best score of a sweep is optimistic; nested CV is not (known true score).

Null setting (Varma & Simon): balanced coin-flip labels, so the true accuracy is exactly 0.5 and
the only noise is in the estimates. Margins measured over seeds 0-4 with 20 development sets:
see README, "Test margins"."""

from __future__ import annotations

from pathlib import Path

import pytest

from overfitting import nested_cv as N

OPTIMISM_MIN = 0.015
GAP_MIN = 0.0
REPS = 20


@pytest.fixture(scope="module")
def tuning_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tuning")


@pytest.fixture(scope="module")
def rows(tuning_out) -> dict[str, dict]:
    rows = N.run(["--reps", str(REPS), "--settings", "null", "--out", str(tuning_out)])
    return {r["estimate"]: r for r in rows}


def test_null_labels_really_carry_no_information():
    """The null setting's "truth = 0.5" is a premise, so check it independently: tune on one
    development set, then score the tuned model on 10,000 fresh samples from another repetition
    of the same generator. Accuracy within 0.025 (5 binomial SEs) of 0.5: false failure 6e-7."""
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = N.problem(0, 0, 100, "null")
    X_new, y_new, _, _ = N.problem(0, 1, 10_000, "null")
    tuned = GridSearchCV(N.model(), N.GRID, cv=3).fit(X, y)
    assert abs(tuned.score(X_new, y_new) - 0.5) < 0.025


def test_non_nested_best_score_is_optimistic(rows):
    assert rows["non-nested CV: best_score_"]["optimism"] > OPTIMISM_MIN


def test_nested_cv_is_closer_to_the_truth_on_average(rows):
    """Measured non-nested optimism - |nested optimism| at this size over seeds 0-4:
    0.022-0.061 (mean 0.04, sd 0.015): > 0 fails about 0.5% of the time (2.6 sd)."""
    nested = abs(rows["nested CV"]["optimism"])
    non_nested = abs(rows["non-nested CV: best_score_"]["optimism"])
    assert nested + GAP_MIN < non_nested


def test_the_tuned_model_learns_when_there_is_signal(tuning_signal_run):
    import numpy as np

    with np.load(tuning_signal_run / "results.npz") as run:  # development set 0, signal
        assert run["signal/tuned model: truth"][0] > 0.6  # measured ~0.70 (chance is 0.5)


@pytest.mark.verifies("of-tuning")
def test_verify_reruns_the_tuning_receipt_and_says_match(tuning_signal_run):
    """Re-runs the one-development-set receipt (the null run above costs 20 times more)."""
    import subprocess
    import sys

    receipt = tuning_signal_run / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "overfitting.receipt", "verify", str(receipt)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr
