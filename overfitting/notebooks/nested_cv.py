# %% [markdown]
# # Tuning: the best score of a sweep is optimistic; nested CV is not
#
# 25 SVM settings tuned on development sets of 100 samples; the truth is measured on 10,000
# fresh samples. `one_rep` in `src/overfitting/nested_cv.py` holds the three estimates
# (`GridSearchCV` on one split, its `best_score_`, and `cross_val_score` around the search).

# %% tags=["parameters"]
SEED = 0
REPS = 2  # development sets per setting (the command's quick size: 8; --full: 50)

# %%
from overfitting.nested_cv import FULL, SETTINGS, one_rep

results = {s: [one_rep(SEED, rep, FULL.n_dev, s) for rep in range(REPS)] for s in SETTINGS}

# %% [markdown]
# ## Reported minus true accuracy ("optimism"), per estimate

# %%
from overfitting.common import markdown_table
from overfitting.nested_cv import rows_from

print(markdown_table([row for s in SETTINGS for row in rows_from(results[s], s)]))

# %%
from overfitting import figures

fig = figures.nested_cv(results)
