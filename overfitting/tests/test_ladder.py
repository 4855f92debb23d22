"""Blum & Hardt (2015): the boosting attack climbs an open leaderboard; the Ladder holds it.

Five independent repetitions (seed 0, repetitions 0-4) at the command's default size: n = 5,000
public and 5,000 private coin-flip labels, 1,000 random submissions, step 0.01. Measured over
seeds 0-4 (25 repetitions) and the 20 of the committed --full run: open public score after
1,000 submissions 0.579-0.613 (mean 0.600, sd 0.007); private accuracy 0.485-0.514 (the binomial
SE of 5,000 labels is 0.007); the Ladder's released score 0.51-0.52."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from overfitting import ladder as L

CLIMB_MIN = 0.06  # the open board's public score climbs at least this far above chance
LADDER_BAND = 0.05  # the Ladder's released score stays below 0.5 + this (5 steps)
PRIVATE_BAND = 0.035  # 5 binomial SEs of 5,000 labels: false failure 6e-7 per check


def test_ladder_releases_only_improvements_by_a_step_rounded():
    labels = np.zeros(100, dtype=np.int64)
    board = L.Ladder(labels, step=0.1)
    wrong = lambda k: np.r_[np.ones(k), np.zeros(100 - k)].astype(np.int64)  # noqa: E731
    assert board.submit(wrong(52)) == pytest.approx(0.5)  # loss 0.52, rounded to a step of 0.1
    assert board.submit(wrong(45)) == pytest.approx(0.5)  # better, but not by a whole step
    assert board.submit(wrong(37)) == pytest.approx(0.4)  # 0.37 < 0.5 - 0.1: released, rounded
    assert L.OpenLeaderboard(labels).submit(wrong(37)) == pytest.approx(0.37)


@pytest.fixture(scope="module")
def finals() -> dict[str, np.ndarray]:
    """The last checkpoint of each repetition: (submissions, released, true public, private)."""
    runs = [L.one_rep(0, rep, L.QUICK) for rep in range(5)]
    return {b: np.stack([r[b][-1] for r in runs]) for b in ("open", "ladder")}


def test_the_attack_climbs_the_open_leaderboard(finals):
    """Climb measured 0.079-0.113 (mean 0.100, sd 0.007): below 0.06 is 5.5 sd away (normal
    approximation: ~2e-8 per repetition)."""
    assert (finals["open"][:, 1] - 0.5 >= CLIMB_MIN).all()
    assert (finals["open"][:, 1] == finals["open"][:, 2]).all()  # the open board tells the truth


def test_the_private_score_stays_at_chance(finals):
    for board in ("open", "ladder"):
        assert (np.abs(finals[board][:, 3] - 0.5) <= PRIVATE_BAND).all()


def test_the_ladder_holds_the_public_score_within_its_band(finals):
    """The Ladder can rise only through a submission with public accuracy above 0.5 + band -
    step / 2 = 0.545. For one random submission that is 6.4 binomial SEs; the union bound over
    1,000 submissions (computed here) is the false-failure rate per repetition, and the few
    majority votes built from the Ladder's announcements are measured no higher (0.51-0.52)."""
    n, k = L.QUICK.n, L.QUICK.submissions
    p_one = stats.binom.sf(math.floor((0.5 + LADDER_BAND - L.QUICK.step / 2) * n), n, 0.5)
    assert k * p_one < 1e-6
    assert (finals["ladder"][:, 1] <= 0.5 + LADDER_BAND + 1e-9).all()
    assert (finals["ladder"][:, 1] < finals["open"][:, 1] - CLIMB_MIN / 2).all()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> dict:
    """`of-ladder` exactly as the README runs it (the quick default)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("ladder") / "out"
    done = subprocess.run(
        [sys.executable, "-m", "overfitting.ladder", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {"done": done, "out": out}


def test_cli_writes_table_figure_and_receipt(default_run):
    assert default_run["done"].returncode == 0, default_run["done"].stderr
    for name in ("table.csv", "table.md", "figure.png", "run.json", "results.npz"):
        assert (default_run["out"] / name).is_file(), name
    receipt = json.loads((default_run["out"] / "run.json").read_text())
    assert (
        receipt["command"][0] == "of-ladder" and receipt["metrics"]["open_climb_min"] >= CLIMB_MIN
    )
    # The command prints its own wall time (the README's benchmark), the receipt's `seconds`.
    assert f"took {receipt['seconds']:.1f} s (run.json: seconds)" in default_run["done"].stdout
