# %% [markdown]
# # Reusing a holdout, and Thresholdout (Dwork et al., *Science* 2015)
#
# Labels are coin flips: no feature carries signal, the truth is 0.5. The analyst keeps the
# features whose correlation is large on the training set AND confirmed on the holdout, then
# votes with the top k. Every holdout answer goes through a guard: none (the standard holdout),
# or one of the two Thresholdouts in `src/overfitting/thresholdout.py`.

# %% tags=["parameters"]
SEED = 0
N, D, K_MAX = 2_000, 2_000, 100  # the paper: n = d = 10,000, k up to 500
REPS = 2  # the paper: 100

# %% [markdown]
# ## One guard, by hand: the training value unless the holdout disagrees

# %%
import numpy as np
from overfitting.thresholdout import AuthorsThresholdout

guard = AuthorsThresholdout(threshold=0.04, sigma=0.01, rng=np.random.default_rng(SEED))
print("agree (0.61 vs 0.60):", guard.answer(0.61, 0.60))  # the training value: 0.61
print("disagree (0.70 vs 0.50):", round(guard.answer(0.70, 0.50), 3))  # a noisy holdout value

# %% [markdown]
# ## The experiment: every repetition, every guard

# %%
from overfitting.reusable_holdout import MODES, Setting, one_run, summarise, variant_rows

s = Setting(n=N, d=D, reps=REPS, k_max=K_MAX)
runs = [one_run(SEED, rep, s, ("authors", "paper")) for rep in range(s.reps)]
rows = summarise(runs, s, MODES)

# %%
from overfitting.common import markdown_table

print(markdown_table([r for r in rows if r["k"] == s.ks[-1]]))  # at the largest k
print(markdown_table(variant_rows(runs, rows, s)))  # how often each guard released the holdout

# %% [markdown]
# ## The reused holdout climbs; the truth (fresh data) stays at 0.5

# %%
from overfitting import figures

fig = figures.reusable_holdout(rows, s, MODES)
