"""Checker for exercise 03: your interval must cover the true mean difference about 95% of the
time when the J measurements come from resampled splits of one dataset, and must not buy that by
being wider than it needs to be.

Run from overfitting/:  uv run pytest exercises/03-report-an-honest-interval
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
N_SIM = 4000  # simulated experiments per setting: SE of a coverage 0.0035


def learner_interval():
    spec = importlib.util.spec_from_file_location("interval", HERE / "interval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.honest_interval


def simulated_experiments(j: int, n_train: int, n_test: int, seed: int) -> np.ndarray:
    """Rows: experiments; columns: J differences that share a dataset effect. Their correlation
    is n_test / (n_test + n_train), which is what sharing the data does to resampled splits."""
    rng = np.random.default_rng(seed)
    rho = n_test / (n_test + n_train)
    shared = rng.normal(0, np.sqrt(rho), (N_SIM, 1))
    return 0.01 + 0.02 * (shared + rng.normal(0, np.sqrt(1 - rho), (N_SIM, j)))


@pytest.mark.parametrize(
    "j, n_train, n_test", [(100, 898, 899), (50, 1437, 360)], ids=["50-50 splits", "5-fold"]
)
def test_interval_covers_the_truth_95_percent_of_the_time(j, n_train, n_test):
    honest_interval = learner_interval()
    sims = simulated_experiments(j, n_train, n_test, seed=j)
    bounds = np.array([honest_interval(d, n_train, n_test) for d in sims], dtype=float)
    covered = float(np.mean((bounds[:, 0] <= 0.01) & (bounds[:, 1] >= 0.01)))
    if covered < 0.93:
        pytest.fail(
            f"With J = {j} splits of {n_train + n_test} samples ({n_test} test), your interval "
            f"covers the true difference in {covered:.0%} of simulated experiments, not 95%: it "
            "is too narrow, because the splits share data. Hint: Nadeau & Bengio's correction "
            "replaces 1/J by (1/J + n_test/n_train) in the variance of the mean.",
            pytrace=False,
        )
    if covered > 0.97:
        pytest.fail(
            f"Your interval covers the truth in {covered:.0%} of simulated experiments: wider "
            "than a 95% interval needs to be. Use the corrected variance, no extra margin.",
            pytrace=False,
        )
