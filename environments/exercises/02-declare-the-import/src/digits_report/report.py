"""Report a 5-fold cross-validated accuracy on scikit-learn's bundled digits, with its error bar.

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
    scores = fold_accuracies()
    # The standard error of the mean over folds: std with n-1, divided by sqrt(n).
    print(f"accuracy {scores.mean():.4f} +- {scipy.stats.sem(scores):.4f} (5 folds)")


if __name__ == "__main__":
    main()
