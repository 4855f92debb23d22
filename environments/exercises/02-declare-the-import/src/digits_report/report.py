"""Report a 5-fold cross-validated accuracy on scikit-learn's bundled digits, with its fold spread.

It runs on the author's machine. Built from its own pyproject.toml alone, would it?
"""

import numpy as np
import scipy.stats  # TODO (exercise): where does this come from? pyproject.toml does not say.
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB


def fold_accuracies() -> np.ndarray:
    X, y = load_digits(return_X_y=True)
    return cross_val_score(GaussianNB(), X, y, cv=5)


def main() -> None:
    scores = scipy.stats.describe(fold_accuracies())
    # The spread over folds, not the standard error of their mean: the folds share training
    # data, so std / sqrt(5) would claim more certainty than five folds give (see the
    # overfitting session's corrected interval).
    low, high = scores.minmax
    print(
        f"accuracy {scores.mean:.4f} over {scores.nobs} folds, "
        f"from {low:.4f} to {high:.4f} (sd {np.sqrt(scores.variance):.4f})"
    )


if __name__ == "__main__":
    main()
