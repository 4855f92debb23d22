"""Checker for exercise 02: name the cherry-picked report in answer.toml, with the honest mean
of its method over split seeds 0-49. The checker recomputes both from reports.py.

Run from overfitting/:  uv run pytest exercises/02-spot-the-cherry-pick
"""

import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from reports import REPORTS, score  # noqa: E402

SEEDS = range(50)


def test_the_cherry_picked_report_is_named_with_its_honest_number():
    answer = tomllib.loads((HERE / "answer.toml").read_text())
    letter = str(answer.get("cherry_picked", "")).strip().upper()
    if letter not in REPORTS:
        pytest.fail(
            f"answer.toml: cherry_picked = {answer.get('cherry_picked')!r}; name one of "
            f"{', '.join(REPORTS)}. Hint: finish scores_over_seeds in find_cherry_pick.py, run "
            "it, and look at where each reported number ranks among its method's 50 seeds.",
            pytrace=False,
        )
    # The report whose seed is the best of its own method's distribution (rank 1 of 50).
    scores = {k: np.array([score(r["method"], s) for s in SEEDS]) for k, r in REPORTS.items()}
    ranks = {k: int(np.sum(scores[k] >= r["accuracy"] - 5e-5)) for k, r in REPORTS.items()}
    picked = min(ranks, key=ranks.get)
    if letter != picked:
        pytest.fail(
            f"Report {letter} ranks {ranks[letter]} of 50 among its own method's split seeds: "
            "a typical seed. Look for the report that sits at the very top of its method's "
            "distribution (the number does not have to be the largest of the three).",
            pytrace=False,
        )
    honest = float(scores[picked].mean())
    given = float(answer.get("honest_mean", 0.0))
    if abs(given - honest) > 0.002:
        pytest.fail(
            f"Right report; but honest_mean = {given:.4f}, while the mean of "
            f"{REPORTS[picked]['method']} over split seeds 0-49 is not that (within 0.002). "
            "Average scores_over_seeds(...) for that method.",
            pytrace=False,
        )
