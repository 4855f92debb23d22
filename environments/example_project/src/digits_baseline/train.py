"""Train logistic regression on scikit-learn's bundled digits and print the test accuracy.

The point of this project is its environment, not its model: it is small enough that its
lockfile and the three exports (requirements.txt, pylock.toml, environment.yml) stay readable.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def train_and_score(seed: int = 0) -> float:
    """Fit on a seeded split of the digits and return the test accuracy."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=seed, stratify=y
    )
    model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    return float(np.mean(model.predict(X_test) == y_test))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"test_accuracy={train_and_score(args.seed):.4f}")


if __name__ == "__main__":
    main()
