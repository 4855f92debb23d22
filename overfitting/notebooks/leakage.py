# %% [markdown]
# # Leakage: four ways test information slips into training
#
# Each part scores one model twice: the leaky way and the honest way (and, where it can, against
# the truth). The parts are functions in `src/overfitting/leakage.py`; this notebook runs them and
# shows the results. `uv run of-leakage --full` is the same at slide quality.

# %% tags=["parameters"]
SEED = 0
REPS = 3  # repetitions of each part (the command's quick size: 20; --full: 100)

# %% [markdown]
# ## (a) ESL 7.10.2 in six lines: select features, then cross-validate
#
# 50 samples, 5,000 features of pure noise, coin-flip labels: the true error is 0.5.

# %%
from overfitting.common import rng_for
from overfitting.leakage import noise_problem
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

X, y = noise_problem(rng_for(SEED, 1, 0))
chosen = SelectKBest(f_classif, k=100).fit(X, y).get_support()  # looks at ALL labels
wrong = 1 - cross_val_score(KNeighborsClassifier(1), X[:, chosen], y, cv=5).mean()
model = make_pipeline(SelectKBest(f_classif, k=100), KNeighborsClassifier(1))
right = 1 - cross_val_score(model, X, y, cv=5).mean()  # selection refit in every fold
print(f"CV error, wrong way {wrong:.3f}; right way {right:.3f}; truth 0.5")

# %% [markdown]
# ## Every part, repeated with independent random streams

# %%
import numpy as np
from overfitting.leakage import PARTS

results = {}
for part, (title, metric, labels, experiment, _) in PARTS.items():
    results[part] = np.array([experiment(SEED, rep) for rep in range(REPS)])
    means = ", ".join(f"{a} {m:.3f}" for a, m in zip(labels, results[part].mean(0), strict=True))
    print(f"{title} ({metric}): {means}")

# %% [markdown]
# ## The leak: leaky minus honest, paired within each repetition, with a 95% CI

# %%
from overfitting.common import markdown_table
from overfitting.leakage import summary_rows

rows = [row for part, v in results.items() for row in summary_rows(part, PARTS[part][2], v)]
print(markdown_table(rows))

# %% [markdown]
# ## Every repetition a dot: red leaky, green honest, gray the truth

# %%
from overfitting import figures

fig = figures.leakage(results, SEED)
