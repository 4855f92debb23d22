"""Replicability: does "method X beats method Y" hold beyond the dataset and seed it was shown on?

The claim: "k-nearest neighbours (with scaling, k = 5) beats logistic regression". It is checked on
scikit-learn's four bundled datasets with repeated stratified 5-fold CV (several seeds), paired by
fold, with the Nadeau & Bengio corrected t interval (folds share training data, so the naive
interval is too narrow). An ablation table removes or changes one part of X at a time.
Reproducible on one dataset is not the same as replicable across datasets.

Run: `uv run of-replicate` (quick) or `uv run of-replicate --full` (slide quality).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from overfitting import figures
from overfitting.common import corrected_ci, finish, now, save_figure, write_table
from overfitting.plumbing import check_args, make_parser, run_at_edge

# %%
# The claim, the datasets, the candidates
# ---------------------------------------

DATASETS = {
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
    "wine": load_wine,
    "iris": load_iris,
}
FOLDS = 5


def candidates() -> dict[str, object]:
    """Y (the baseline), X (the claimed winner) and X's ablations, each one change away from X."""
    return {
        "Y: scaler + logistic regression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=300)
        ),
        "X: scaler + 5-NN": make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
        "X without scaler": KNeighborsClassifier(5),
        "X with k = 1": make_pipeline(StandardScaler(), KNeighborsClassifier(1)),
        "X with k = 15": make_pipeline(StandardScaler(), KNeighborsClassifier(15)),
    }


# %%
# Paired scores on the same folds, and what an interval allows us to say
# ---------------------------------------------------------------------
# The same seed gives the same folds for every candidate, so differences are paired by fold.


def fold_scores(name: str, seed: int, repeats: int) -> dict[str, np.ndarray]:
    """Accuracy of every candidate on the same folds (same seed -> same folds for all)."""
    X, y = DATASETS[name](return_X_y=True)
    cv = RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=repeats, random_state=seed)
    scores = {c: [] for c in candidates()}
    for train, test in cv.split(X, y):
        for c, model in candidates().items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X[train], y[train])
            scores[c].append(model.score(X[test], y[test]))
    return {c: np.array(s) for c, s in scores.items()}


def verdict(lo: float, hi: float) -> str:
    """What an honest reader may conclude from the interval."""
    if lo > 0:
        return "X wins"
    if hi < 0:
        return "Y wins"
    return "no difference shown"


# %%
# The ablation table: one row per dataset and candidate
# -----------------------------------------------------


def ablation_rows(all_scores: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """One row per dataset and candidate: accuracy and (for X and ablations) the difference to Y."""
    rows = []
    for name, scores in all_scores.items():
        base = scores["Y: scaler + logistic regression"]
        for c, s in scores.items():
            row = {"dataset": name, "method": c, "accuracy": float(s.mean())}
            if c.startswith("Y"):
                row |= {
                    "minus_Y": 0.0,
                    "ci95_low": float("nan"),
                    "ci95_high": float("nan"),
                    "verdict": "baseline",
                }
            else:
                # Folds share training data: J = folds x repeats, n_test / n_train = 1 / (FOLDS - 1).
                m, lo, hi = corrected_ci(s - base, 1 / (FOLDS - 1))
                row |= {"minus_Y": m, "ci95_low": lo, "ci95_high": hi, "verdict": verdict(lo, hi)}
            rows.append(row)
    return rows


def single_seed_rows(single: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """What one 5-fold CV with one seed would have 'shown' per dataset (no interval)."""
    rows = []
    for name, scores in single.items():
        d = scores["X: scaler + 5-NN"].mean() - scores["Y: scaler + logistic regression"].mean()
        rows.append({"dataset": name, "one_seed_X_minus_Y": float(d)})
    return rows


# %%
# The command
# -----------


def run(argv: list[str] | None = None) -> list[dict]:
    """Run the check and the ablation; print and write the tables, the figure and run.json."""
    parser = make_parser(__doc__.splitlines()[0], "replicability")
    parser.add_argument("--repeats", type=int, help="CV repeats, i.e. seeds (quick 3, full 10)")
    args = parser.parse_args(argv)
    check_args(args)
    repeats = args.repeats or (10 if args.full else 3)
    started = now()
    all_scores = {
        n: fold_scores(n, args.seed, repeats) for n in tqdm(DATASETS, desc="datasets", disable=None)
    }
    rows = ablation_rows(all_scores)
    # The first repeat alone is "one seed, one 5-fold CV": what a single paper run would show.
    single = {n: {c: s[:FOLDS] for c, s in sc.items()} for n, sc in all_scores.items()}
    print(write_table(args.out, rows))
    print(write_table(args.out, single_seed_rows(single), "one_seed"))
    save_figure(figures.replicability(rows), args.out / "figure.png")
    metrics = {}
    for r in rows:
        if r["method"] == "X: scaler + 5-NN":
            metrics[f"{r['dataset']}_X_minus_Y"] = r["minus_Y"]
    metrics["datasets_where_X_wins"] = float(
        sum(r["verdict"] == "X wins" for r in rows if r["method"] == "X: scaler + 5-NN")
    )
    finish(
        args.out,
        args=args,
        config={"repeats": repeats, "folds": FOLDS, "methods": list(candidates())},
        metrics=metrics,
        results={f"{n}/{c}": s for n, sc in all_scores.items() for c, s in sc.items()},
        data=[DATASETS[n](return_X_y=True)[0] for n in DATASETS],
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, table.csv, one_seed.md, figure.png, run.json")
    return rows


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
