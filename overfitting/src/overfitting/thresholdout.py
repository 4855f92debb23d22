"""Thresholdout, two ways: as the paper's algorithm box states it, and as the authors' code ran it.

Dwork, Feldman, Hardt, Pitassi, Reingold & Roth, "The reusable holdout", Science 2015. Both
guards answer a query (a statistic computed on training and on holdout data) with the training
value unless the two disagree by more than a noisy threshold; they differ in the noise.
`reusable_holdout.py` runs the paper's experiment with either of them.
"""

from __future__ import annotations

import math

import numpy as np

# %%
# Thresholdout, as the paper's algorithm box states it
# ----------------------------------------------------
# Every question ("what is this feature's correlation on the holdout?", "what is this model's
# holdout accuracy?") is a *query*. When training and holdout agree, the analyst learns only the
# training value, i.e. nothing about the holdout. Each release of a holdout value costs one unit
# of the budget, and the noise is what makes the guarantee hold (differential privacy).
#
# Even when training and holdout agree exactly (gap 0), the box releases the holdout on about one
# query in seven: a query releases when Lap(4 sigma) < -T^, which for T = 0.04 and sigma = 0.01
# happens often. T^ is redrawn only after a release, so a high draw stays and silences many queries
# in a row, while a low draw releases almost at once and is replaced. Each release ends one
# stretch of queries under one T^, so the long-run release fraction is 1 / E[1 / P(release | T^)]
# = 13.8% (a renewal argument), not the 22.3% a threshold redrawn for every query would give.


class Thresholdout:
    """The paper's box: T^ = T + Lap(2 sigma); release holdout + Lap(sigma) when
    |holdout - train| > T^ + Lap(4 sigma), then redraw T^ and spend one unit of budget."""

    name = "paper"

    def __init__(
        self, threshold: float, sigma: float, rng: np.random.Generator, budget: float = math.inf
    ) -> None:
        self.threshold, self.sigma, self.rng, self.budget = threshold, sigma, rng, budget
        self.noisy_threshold = threshold + rng.laplace(0, 2 * sigma)
        self.queries = self.holdout_releases = 0

    def answer(self, train_value: float, holdout_value: float) -> float:
        """One query: the training value, or (if they disagree) a noisy holdout value."""
        if self.budget < 1:
            raise RuntimeError("Thresholdout budget exhausted")
        self.queries += 1
        if abs(holdout_value - train_value) > self.noisy_threshold + self.rng.laplace(
            0, 4 * self.sigma
        ):
            self.budget -= 1
            self.holdout_releases += 1
            self.noisy_threshold = self.threshold + self.rng.laplace(0, 2 * self.sigma)
            return holdout_value + self.rng.laplace(0, self.sigma)
        return train_value

    def answer_many(self, train_values: np.ndarray, holdout_values: np.ndarray) -> np.ndarray:
        """Queries answered one after another (each release moves the noisy threshold)."""
        return np.array(
            [self.answer(t, h) for t, h in zip(train_values, holdout_values, strict=True)]
        )


# %%
# Thresholdout, as the authors' experiment code ran it
# ----------------------------------------------------
# The supplementary file `aaa9375_SupportingFile_Other_seq5_v1.py` ("Fast implementation of
# Thresholdout specific to the experiment") uses threshold = 4/sqrt(n), tolerance = 1/sqrt(n), and
# for every query a fresh Gaussian: release when |holdout - train| > threshold + N(0, tolerance),
# then answer holdout + N(0, tolerance). No Laplace, no redrawn threshold, no budget. Its threshold
# noise (sd 0.01 at n = 10,000) is six times smaller than the box's (Lap(0.02) + Lap(0.04): sd
# 0.063), so agreeing queries almost never release the holdout.


class AuthorsThresholdout:
    """The supplementary code's Thresholdout: Gaussian noise of sd `sigma` on the threshold of
    each query and on each released value; queries are independent, so they vectorise."""

    name = "authors"

    def __init__(self, threshold: float, sigma: float, rng: np.random.Generator) -> None:
        self.threshold, self.sigma, self.rng = threshold, sigma, rng
        self.budget = math.inf  # the authors' code has none
        self.queries = self.holdout_releases = 0

    def answer_many(self, train_values: np.ndarray, holdout_values: np.ndarray) -> np.ndarray:
        train_values, holdout_values = np.asarray(train_values), np.asarray(holdout_values)
        gap = np.abs(train_values - holdout_values)
        release = gap > self.threshold + self.rng.normal(0, self.sigma, gap.shape)
        noisy = holdout_values + self.rng.normal(0, self.sigma, gap.shape)
        self.queries += gap.size
        self.holdout_releases += int(release.sum())
        return np.where(release, noisy, train_values)

    def answer(self, train_value: float, holdout_value: float) -> float:
        return float(self.answer_many(np.array([train_value]), np.array([holdout_value]))[0])


VARIANTS = {"authors": AuthorsThresholdout, "paper": Thresholdout}
