"""One pipeline, many seeds: a spread of scores, and an optimistic "best seed"."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from overfitting import seed_lottery as S

# Measured on the 4 x 4 grid below over seeds 0-4: std 0.005-0.008; (best - mean) / std
# 1.34-2.27 (normal theory for the best of 16: 1.77); expected best of 10 - mean: 1.33-1.84 std.
# Thresholds sit well below the minimum.
STD_MIN = 0.002
BEST_MIN_STD = 0.8


def test_best_of_n_formula_matches_brute_force():
    scores = np.array([0.90, 0.93, 0.91, 0.95, 0.92, 0.94])
    exact = S.best_of_n_overstatement(scores, [1, 3, 6])
    for n, value in exact.items():
        brute = np.mean([max(c) for c in combinations(scores, n)]) - scores.mean()
        assert value == pytest.approx(brute)
    assert exact[1] == pytest.approx(0.0)


def test_same_seeds_same_score_different_seeds_differ():
    a = S.train_and_score((64,), 1, 2)
    assert a == S.train_and_score((64,), 1, 2)  # reproducible, bit for bit
    others = {S.train_and_score((64,), 1, j) for j in range(3, 6)}
    assert len(others | {a}) > 1  # ...and the init seed matters


def test_network_learns_digits():
    assert S.train_and_score((64,), 0, 0) > 0.93  # measured 0.95-0.97


@pytest.fixture(scope="module")
def lottery(tmp_path_factory) -> dict:
    """A 4 x 4 seed grid and 8 paired seeds (the quick default is 6 x 6 and 20)."""
    out = tmp_path_factory.mktemp("seeds")
    small = S.Sizes(split_seeds=4, init_seeds=4, paired_seeds=8)
    S.QUICK, saved = small, S.QUICK
    try:
        result = S.run(["--out", str(out)])
    finally:
        S.QUICK = saved
    result["receipt"] = json.loads((out / "run.json").read_text())
    result["out"] = out
    return result


def test_seed_spread_is_reported_and_real(lottery):
    m = lottery["receipt"]["metrics"]
    assert m["std"] > STD_MIN
    assert m["std_init"] > 0 and m["std_split"] > 0


def test_best_seed_overstates_the_mean(lottery):
    m = lottery["metrics"]
    grid = lottery["grid"].ravel()
    # The best of 16 runs sits well above the mean (measured 1.34-2.27 std).
    assert m["best_minus_mean"] > BEST_MIN_STD * m["std"]
    assert m["best_minus_mean"] == pytest.approx(grid.max() - grid.mean())


def test_paired_comparison_gives_an_interval(lottery):
    m = lottery["metrics"]
    assert m["paired_ci95_low"] < m["paired_B_minus_A"] < m["paired_ci95_high"]
    # The numbers come from the per-seed scores, not from somewhere else.
    diff = lottery["scores"][:, 1] - lottery["scores"][:, 0]
    assert m["paired_B_minus_A"] == pytest.approx(diff.mean())
    assert m["cherry_picked_B_minus_A"] == pytest.approx(diff.max())
    # The lesson: the one seed a cherry-picker reports lies outside the interval the paired
    # comparison supports (measured on this 4 x 4 + 8 setting: above the upper bound for seeds
    # 0-5, by 0.0002-0.012; this test uses seed 0, margin 0.0014, and is deterministic).
    assert m["cherry_picked_B_minus_A"] > m["paired_ci95_high"]


def test_reported_best_of_n_is_the_amount_measured_on_the_grid(lottery):
    """The table's "best of N seeds - mean" rows are what picking the best of N of the measured
    runs gives, checked by brute force over every N-subset of the 16 runs (not by the formula)."""
    grid = lottery["grid"].ravel()
    table = (lottery["out"] / "lottery.csv").read_text().splitlines()
    reported = {
        int(q.split()[2]): float(v)
        for q, v in (line.rsplit(",", 1) for line in table[1:])
        if q.startswith("best of")
    }
    assert sorted(reported) == [1, 2, 5, 10]  # the N <= 16 runs of the 4 x 4 grid
    for n, value in reported.items():
        brute = np.mean([max(c) for c in combinations(grid, n)]) - grid.mean()
        assert value == pytest.approx(brute, abs=0.0005)  # the table rounds to 3 decimals
    # More seeds tried, more optimism: the overstatement grows with N and is real at N = 10.
    values = [reported[n] for n in sorted(reported)]
    assert values[0] == 0.0 and all(a < b for a, b in zip(values, values[1:], strict=False))
    assert reported[10] > BEST_MIN_STD * lottery["metrics"]["std"]
