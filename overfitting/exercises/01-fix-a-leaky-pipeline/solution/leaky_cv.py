"""Exercise 01: fix a leaky pipeline (solution).

`cv_accuracy` estimates how well "the 100 best features + a 1-nearest-neighbour classifier" will do
on new data. On pure noise (labels that are coin flips) the honest answer is 0.5.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline


def cv_accuracy(X: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """5-fold cross-validated accuracy of: keep the 100 features most associated with y, then
    classify with 1-NN."""
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    # The selection is a step of the model: cross_val_score refits it on each training fold,
    # so it never sees the labels of the fold it is scored on.
    model = make_pipeline(SelectKBest(f_classif, k=100), KNeighborsClassifier(1))
    return float(cross_val_score(model, X, y, cv=cv).mean())
