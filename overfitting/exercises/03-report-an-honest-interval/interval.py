"""Exercise 03: report an honest interval for "B beats A".

You compared two models on J random train/test splits of ONE dataset and have the J paired
differences (accuracy B - accuracy A). `honest_interval` must return a 95% interval for the mean
difference that really covers the truth 95% of the time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def honest_interval(
    diffs: np.ndarray, n_train: int, n_test: int, level: float = 0.95
) -> tuple[float, float]:
    """A `level` confidence interval for the mean of `diffs`, measured on len(diffs) resampled
    splits with n_train training and n_test test samples each."""
    j = len(diffs)
    mean, sd = float(np.mean(diffs)), float(np.std(diffs, ddof=1))
    # TODO (exercise): this is the textbook t interval for J independent measurements. The J
    # splits share most of their data, so the differences are correlated and this is too narrow.
    half = stats.t.ppf(0.5 + level / 2, j - 1) * sd / math.sqrt(j)
    return mean - half, mean + half
