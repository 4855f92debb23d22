# %% [markdown]
# # Replicability: does "X beats Y" hold beyond one dataset?
#
# X = scaled 5-NN, Y = scaled logistic regression, and ablations of X, on four bundled datasets
# with repeated 5-fold CV and corrected intervals (`src/overfitting/replicability.py`).

# %% tags=["parameters"]
SEED = 0
REPEATS = 2  # CV repeats (the command's quick size: 3; --full: 10)

# %%
from overfitting.replicability import DATASETS, ablation_rows, fold_scores

scores = {name: fold_scores(name, SEED, REPEATS) for name in DATASETS}
rows = ablation_rows(scores)

# %% [markdown]
# ## Each method minus Y, with its corrected 95% interval and what it lets you claim
#
# 16 intervals at 95% each: even with no real difference, about 0.8 would exclude 0 by chance.

# %%
from overfitting.common import markdown_table

print(markdown_table(rows))

# %%
from overfitting import figures

fig = figures.replicability(rows)
