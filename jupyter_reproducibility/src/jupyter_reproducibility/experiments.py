"""The two small "experiments" of this topic: digits + logistic regression.

The trap notebooks write these scikit-learn lines in their cells, where the hidden state is
visible; the marimo notebooks and the tests import them from here. They are deliberately tiny
(under a second each) so that the lesson is about *notebook state*, not about the model. The only parameter that differs between the experiments is `C`, the inverse
regularisation strength: a small `C` (strong regularisation) gives a clearly lower accuracy, so
running an experiment with the other experiment's `C` changes the printed number visibly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

# The values the notebooks use; tests compare notebook output against these computed directly.
C_EXPERIMENT_1 = 0.001  # strong regularisation
C_EXPERIMENT_2 = 1.0  # weak regularisation
SEED = 0


class Split(NamedTuple):
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed: int = SEED, test_size: float = 0.3) -> Split:
    """The 1,797 bundled 8x8 digits, scaled to [0, 1], split with a seeded, stratified split."""
    X, y = load_digits(return_X_y=True)
    # Pixel values are 0..16; scaling keeps lbfgs well conditioned so it converges quietly.
    X = X / 16.0
    return Split(*train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y))


def train_classifier(X_train: np.ndarray, y_train: np.ndarray, C: float) -> LogisticRegression:
    """Fit a multinomial logistic regression; lbfgs is deterministic, so no seed is needed here."""
    return LogisticRegression(C=C, max_iter=2000).fit(X_train, y_train)


def train_and_score(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, C: float
) -> float:
    """Test accuracy of a classifier trained with inverse regularisation strength `C`."""
    model = train_classifier(X_train, y_train, C)
    return float(model.score(X_test, y_test))


@lru_cache
def expected_accuracy(C: float, seed: int = SEED) -> float:
    """The accuracy a fresh, top-to-bottom run must print for `C`: the reference for the tests.

    Cached: it is a pure function of `C` and `seed`, and tests ask for the same values often.
    """
    split = load_digits_split(seed)
    return train_and_score(split.X_train, split.y_train, split.X_test, split.y_test, C=C)
