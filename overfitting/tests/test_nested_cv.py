"""The best score of a sweep is optimistic; nested CV is not (known true score).

Null setting (Varma & Simon): balanced coin-flip labels, so the true accuracy is exactly 0.5 and
the only noise is in the estimates. Margins measured over seeds 0-4 with 20 development sets:
see README, "Test margins"."""

from __future__ import annotations

import pytest

from overfitting import nested_cv as N

OPTIMISM_MIN = 0.015
GAP_MIN = 0.0
REPS = 20


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("tuning")
    rows = N.run(["--reps", str(REPS), "--settings", "null", "--out", str(out)])
    return {r["estimate"]: r for r in rows}


def test_truth_is_exactly_one_half_in_the_null_setting(rows):
    assert rows["nested CV"]["truth"] == 0.5


def test_non_nested_best_score_is_optimistic(rows):
    assert rows["non-nested CV: best_score_"]["optimism"] > OPTIMISM_MIN


def test_nested_cv_is_closer_to_the_truth_on_average(rows):
    nested = abs(rows["nested CV"]["optimism"])
    non_nested = abs(rows["non-nested CV: best_score_"]["optimism"])
    assert nested + GAP_MIN < non_nested


def test_the_tuned_model_learns_when_there_is_signal():
    result = N.one_rep(0, 0, 100, "signal")
    assert result["tuned model: truth"] > 0.6  # measured ~0.70 (chance is 0.5)
