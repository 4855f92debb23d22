# %% [markdown]
# # The seed lottery: one pipeline, many seeds
#
# A small MLP on the digits; only the split seed and the initialisation seed change. Every run
# is reproducible, yet the test accuracy is a distribution. The functions are in
# `src/overfitting/seed_lottery.py`.

# %% tags=["parameters"]
SEED = 0
SPLITS, INITS = 2, 3  # seed grid (the command's quick size: 6 x 6; --full: 20 x 20)
PAIRED = 4  # paired seeds for "B beats A" (quick 20, --full 100)

# %%
import numpy as np
from overfitting.seed_lottery import METHODS, train_and_score

base = 1000 * SEED  # --seed 1 is a fresh lottery, not a reshuffle of the same one
grid = np.empty((SPLITS, INITS))
for i in range(SPLITS):
    for j in range(INITS):
        grid[i, j] = train_and_score(METHODS["A: MLP 64"], base + i, base + 500 + j)
print(grid.round(3))  # rows: split seeds, columns: init seeds

# %% [markdown]
# ## The spread, and how far the best seed sits above the mean

# %%
from overfitting.common import markdown_table
from overfitting.seed_lottery import lottery_rows

ns = [n for n in (1, 2, 5, 10, 20) if n <= grid.size]
print(markdown_table(lottery_rows(grid, ns)))

# %% [markdown]
# ## "B beats A"? Both methods on the same seeds, then a naive and a corrected interval

# %%
from overfitting.seed_lottery import comparison_rows

scores = np.array(
    [[train_and_score(h, 100_000 + base + k, 100_000 + base + k) for h in METHODS.values()]
     for k in range(PAIRED)]
)  # fmt: skip
print(markdown_table(comparison_rows(scores)))

# %%
from overfitting import figures

fig = figures.seed_lottery(grid, scores, ns)
