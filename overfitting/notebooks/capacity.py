# %% [markdown]
# # What overfitting is: training and validation error as capacity grows
#
# k-nearest neighbours on scikit-learn's digits, with 20% of the labels flipped to a wrong class.
# A small k is a flexible model (k = 1 recalls every training label, the wrong ones too); a large
# k is a smooth one. The code is in `src/overfitting/capacity.py`.

# %% tags=["parameters"]
SEED = 0
SPLITS = 1  # random 50/50 splits (the command's quick size: 2; --full: 20)

# %%
import numpy as np
from overfitting.capacity import QUICK, noisy_digits
from sklearn.model_selection import ShuffleSplit, validation_curve
from sklearn.neighbors import KNeighborsClassifier

X, y, flipped = noisy_digits(SEED, QUICK.flip)
ks = np.arange(1, QUICK.k_max + 1)
# One KNeighborsClassifier(n_neighbors=k) per k and split, scored on its training half and on
# the held-out half.
train_acc, val_acc = validation_curve(
    KNeighborsClassifier(),
    X,
    y,
    param_name="n_neighbors",
    param_range=ks,
    cv=ShuffleSplit(n_splits=SPLITS, test_size=0.5, random_state=SEED),
)
curve = {"k": ks, "train_error": 1 - train_acc, "val_error": 1 - val_acc}

# %% [markdown]
# ## Training error falls as k shrinks; validation error has a bottom

# %%
from overfitting.capacity import summary_rows
from overfitting.common import markdown_table

print(markdown_table(summary_rows(curve)))

# %%
import dataclasses

from overfitting import figures

fig = figures.capacity(curve, dataclasses.replace(QUICK, splits=SPLITS))
