"""What overfitting is: training error keeps falling as capacity grows, validation error is U-shaped.

One run of `of-capacity --splits 1` (the session fixture `capacity_run`) serves every test here.
Margins measured at this size over seeds 0-5: see tests/README.md, "Test margins".
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from overfitting import capacity as C

# Measured over seeds 0-5 with one split: validation error at k = 1 minus at the best k
# 0.123-0.152, at k = 50 minus at the best k 0.033-0.050 (mean 0.039, sd 0.0065: 0.01 is 4.5 sd
# below, false failure ~3e-6); best k 5-10; rho(k, training error) 0.984-0.995; training error
# 0 at k = 1 and strictly rising over k = 1, 2, 4, ..., 32 in all six.
RISE_MIN = 0.01
RHO_MIN = 0.9


@pytest.fixture(scope="module")
def curve(capacity_run) -> dict[str, np.ndarray]:
    with np.load(capacity_run / "results.npz") as run:
        return {k: run[k] for k in run.files}


def test_training_error_keeps_falling_as_capacity_grows(curve):
    """k = 1 recalls every training label, noise included: training error exactly 0. Every
    doubling of capacity (halving k: 32, 16, 8, 4, 2, 1) lowers the training error, and over all
    50 k its rank correlation with k is near 1 (between neighbouring k it may wiggle by a digit
    or two: ties in the vote)."""
    train = curve["train_error"].mean(1)
    assert train[0] == 0.0
    doubling = [train[k - 1] for k in (1, 2, 4, 8, 16, 32)]
    assert all(a < b for a, b in zip(doubling, doubling[1:], strict=False)), doubling
    assert stats.spearmanr(curve["k"], train)[0] > RHO_MIN


def test_validation_error_is_lowest_at_an_interior_k(curve):
    """The U: the best k is neither the most flexible model (k = 1) nor the smoothest (k = 50),
    and validation error rises clearly on both sides of it."""
    val = curve["val_error"].mean(1)
    best = C.best_k(curve)
    assert 1 < best < curve["k"][-1]
    assert val[0] - val[best - 1] > RISE_MIN  # overfitting side: memorised noise
    assert val[-1] - val[best - 1] > RISE_MIN  # underfitting side: the digits blurred
    # Past the best k, more capacity keeps lowering training error but raises validation error.
    assert curve["train_error"].mean(1)[0] < curve["train_error"].mean(1)[best - 1]


def test_the_flipped_labels_are_the_fraction_asked_and_never_the_true_class():
    X, noisy, flipped = C.noisy_digits(0, 0.2)
    from sklearn.datasets import load_digits

    true = load_digits().target
    assert flipped.sum() == round(0.2 * len(true)) and (noisy[flipped] != true[flipped]).all()
    assert (noisy[~flipped] == true[~flipped]).all()


@pytest.mark.verifies("of-capacity")
def test_verify_reruns_the_capacity_receipt_and_says_match(capacity_run):
    receipt = capacity_run / "run.json"
    assert json.loads(receipt.read_text())["command"][0] == "of-capacity"
    done = subprocess.run(
        [sys.executable, "-m", "overfitting.receipt", "verify", str(receipt)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr
