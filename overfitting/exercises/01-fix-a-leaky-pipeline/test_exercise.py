"""Checker for exercise 01: your `cv_accuracy` must be honest on pure noise (within 0.1 of
chance) and still find real signal when there is some.

Run from overfitting/:  uv run pytest exercises/01-fix-a-leaky-pipeline
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent


def learner_module():
    spec = importlib.util.spec_from_file_location("leaky_cv", HERE / "leaky_cv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def noise(seed: int, n: int = 50, p: int = 5000):
    """ESL's setting: 50 samples, 5,000 standard-normal features, coin-flip labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), rng.permutation(np.repeat([0, 1], n // 2))


def signal(seed: int, n: int = 50, p: int = 5000):
    """The same, but 20 features really differ between the classes (by 1.5 sd)."""
    X, y = noise(seed, n, p)
    X[:, :20] += 1.5 * y[:, None]
    return X, y


def test_cv_estimate_is_honest_on_noise_and_still_finds_signal():
    cv_accuracy = learner_module().cv_accuracy
    # Mean over 5 noise problems: its sd is about 0.03 around 0.5, so 0.1 is 3+ sd of slack.
    on_noise = np.mean([cv_accuracy(*noise(seed), seed=seed) for seed in range(5)])
    if abs(on_noise - 0.5) > 0.1:
        pytest.fail(
            f"On coin-flip labels your cv_accuracy reports {on_noise:.2f}; the truth is 0.50. "
            "Something that looks at the labels (the feature selection?) still sees the test "
            "folds. Hint: make it a step of a Pipeline that cross_val_score refits per fold.",
            pytrace=False,
        )
    on_signal = np.mean([cv_accuracy(*signal(seed), seed=seed) for seed in range(3)])
    if on_signal < 0.75:
        pytest.fail(
            f"On data with real signal your cv_accuracy reports only {on_signal:.2f} (the model "
            "can reach ~0.9): keep the model (100 best features + 1-NN); only move the "
            "selection inside the cross-validation.",
            pytrace=False,
        )
