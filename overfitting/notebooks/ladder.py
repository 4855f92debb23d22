# %% [markdown]
# # A leaderboard attack, and the Ladder (Blum & Hardt, ICML 2015)
#
# Coin-flip test labels, half public, half private. The attacker submits random predictions,
# keeps the ones the public board scores above chance, and submits their majority vote. The
# code is in `src/overfitting/ladder.py`.

# %% tags=["parameters"]
SEED = 0
REPS = 3  # the command's quick size: 5; --full: 20

# %%
import dataclasses

from overfitting.ladder import QUICK, one_rep, summary_rows

s = dataclasses.replace(QUICK, reps=REPS)
runs = [one_rep(SEED, rep, s) for rep in range(s.reps)]

# %% [markdown]
# ## The open board's public score climbs; the private score stays at chance

# %%
from overfitting.common import markdown_table

print(markdown_table(summary_rows(runs, s)))

# %%
from overfitting import figures

fig = figures.ladder(runs, s)
