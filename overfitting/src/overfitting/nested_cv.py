"""Tuning on one split: the best score of a sweep is an optimistic estimate; nested CV is not.

A hyperparameter sweep (an RBF SVM, 5 x 5 values of C and gamma) is run on small development sets
of 100 samples where the true accuracy is known: in the "signal" setting it is measured on 10,000
fresh samples; in the "null" setting (Varma & Simon's design) the labels are balanced coin flips
independent of the features, so every classifier's true accuracy is exactly 0.5. Three ways to
report "the accuracy of the tuned model":
  * single split: tune on a validation split, report the best validation score;
  * non-nested CV: `GridSearchCV(...).best_score_`;
  * nested CV: an outer CV loop around the whole GridSearchCV (Varma & Simon 2006;
    Cawley & Talbot 2010).
The first two pick the top of a noisy distribution and report it; nested CV scores the choosing.

Run: `uv run of-tuning` (quick) or `uv run of-tuning --full` (slide quality).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.svm import SVC
from tqdm import tqdm

from overfitting import figures
from overfitting.common import finish, mean_ci, now, save_figure, write_table
from overfitting.plumbing import BadInput, check_args, make_parser, run_at_edge

# %%
# The sweep and the problems
# --------------------------
# Every setting gives a working classifier on these 20 unit-scale features, so the sweep is 25
# genuinely different noisy scores, not a handful of good ones among degenerate ones.
GRID = {"C": np.logspace(-1, 2, 5), "gamma": np.logspace(-2.5, -0.5, 5)}
FRESH = 10_000  # samples used to measure the truth


@dataclass(frozen=True)
class Sizes:
    reps: int
    n_dev: int


QUICK = Sizes(reps=8, n_dev=100)
FULL = Sizes(reps=50, n_dev=100)
SETTINGS = ("signal", "null")


def problem(seed: int, rep: int, n_dev: int, setting: str = "signal") -> tuple:
    """A small development set and a large fresh set from the same distribution: the fresh set
    is never touched while tuning, it only measures the truth. In the null setting the fresh
    set is None: the truth is exactly 0.5 by construction."""
    if setting == "null":
        rng = np.random.default_rng([seed, rep, 7])
        X = rng.standard_normal((n_dev, 20))
        y = rng.permutation(np.arange(n_dev) % 2)  # balanced, independent of X
        return X, y, None, None
    X, y = make_classification(
        n_samples=n_dev + FRESH,
        n_features=20,
        n_informative=4,
        n_redundant=2,
        flip_y=0.1,
        class_sep=0.8,
        random_state=10_000 * seed + rep,
    )
    return X[:n_dev], y[:n_dev], X[n_dev:], y[n_dev:]


def model() -> SVC:
    """The features of `make_classification` are already on one scale: no scaler needed."""
    return SVC()


# %%
# Three ways to report "the accuracy of the tuned model"
# ------------------------------------------------------
# All three see the same development set; only nested CV keeps the choosing of C and gamma away
# from the data that scores it.


def true_accuracy(model: SVC, X_fresh: np.ndarray | None, y_fresh: np.ndarray | None) -> float:
    """Accuracy on fresh data; exactly 0.5 when the labels carry no information."""
    return 0.5 if X_fresh is None else model.score(X_fresh, y_fresh)


def one_rep(seed: int, rep: int, n_dev: int, setting: str = "signal") -> dict[str, float]:
    """Every estimate and its truth for one development set."""
    X, y, X_fresh, y_fresh = problem(seed, rep, n_dev, setting)
    # 3 folds inside, 3 outside: 25 configs x 3 x 3 = 225 fits per nested estimate, a
    # deliberate economy (5 x 5 folds gives the same picture, 3x slower).
    inner = StratifiedKFold(3, shuffle=True, random_state=rep)
    outer = StratifiedKFold(3, shuffle=True, random_state=rep + 1)
    out = {}

    # Single validation split: pick the config with the best validation score, report that score.
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=rep)
    split_search = GridSearchCV(
        model(), GRID, cv=[(np.arange(len(y_tr)), np.arange(len(y_tr), len(y)))]
    )
    split_search.fit(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val]))
    out["single split: best val score"] = split_search.best_score_
    out["single split: truth"] = true_accuracy(split_search.best_estimator_, X_fresh, y_fresh)

    # Non-nested CV: the sweep's best mean CV score.
    search = GridSearchCV(model(), GRID, cv=inner).fit(X, y)
    out["non-nested CV: best_score_"] = search.best_score_
    out["tuned model: truth"] = true_accuracy(search.best_estimator_, X_fresh, y_fresh)

    # Nested CV: the whole search is refit inside each outer training fold.
    out["nested CV"] = cross_val_score(GridSearchCV(model(), GRID, cv=inner), X, y, cv=outer).mean()
    return {k: float(v) for k, v in out.items()}


# %%
# Optimism: reported minus true accuracy, over many development sets
# ------------------------------------------------------------------

ESTIMATES = {
    # estimate: the truth it claims to estimate
    "single split: best val score": "single split: truth",
    "non-nested CV: best_score_": "tuned model: truth",
    "nested CV": "tuned model: truth",
}


def rows_from(results: list[dict[str, float]], setting: str) -> list[dict]:
    """Per estimate: mean reported score, mean truth, optimism (reported - truth) with a 95% CI,
    and mean absolute error."""
    rows = []
    for est, truth in ESTIMATES.items():
        reported = np.array([r[est] for r in results])
        true = np.array([r[truth] for r in results])
        m, lo, hi = mean_ci(reported - true)
        rows.append(
            {
                "setting": setting,
                "estimate": est,
                "reported": float(reported.mean()),
                "truth": float(true.mean()),
                "optimism": m,
                "ci95_low": lo,
                "ci95_high": hi,
                "mean_abs_error": float(np.abs(reported - true).mean()),
                "reps": len(results),
            }
        )
    return rows


COLORS = {
    "single split: best val score": "tab:orange",
    "non-nested CV: best_score_": "tab:red",
    "nested CV": "tab:green",
}


# %%
# The command
# -----------


def run(argv: list[str] | None = None) -> list[dict]:
    """Run the comparison in both settings; print and write the table, figure and run.json."""
    parser = make_parser(__doc__.splitlines()[0], "nested_cv")
    parser.add_argument("--reps", type=int, help="development sets per setting (quick 8, full 50)")
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="comma-separated: signal, null"
    )
    args = parser.parse_args(argv)
    check_args(args)
    settings = [x.strip() for x in args.settings.split(",") if x.strip()]
    if not settings or set(settings) - set(SETTINGS):
        raise BadInput(f"--settings must name some of {', '.join(SETTINGS)}, got {args.settings!r}")
    base = FULL if args.full else QUICK
    sizes = Sizes(reps=args.reps or base.reps, n_dev=base.n_dev)
    started = now()
    results = {
        setting: [
            one_rep(args.seed, r, sizes.n_dev, setting)
            for r in tqdm(range(sizes.reps), desc=f"{setting} development sets", disable=None)
        ]
        for setting in settings
    }
    rows = [row for setting in settings for row in rows_from(results[setting], setting)]
    print(write_table(args.out, rows))
    if settings == list(SETTINGS):
        save_figure(figures.nested_cv(results), args.out / "figure.png")
    metrics = {}
    for row in rows:
        key = row["estimate"].split(":")[0].replace(" ", "_").replace("-", "_")
        metrics[f"{row['setting']}_{key}_optimism"] = row["optimism"]
        metrics[f"{row['setting']}_{key}_mean_abs_error"] = row["mean_abs_error"]
    finish(
        args.out,
        args=args,
        config={
            "sizes": sizes.__dict__,
            "settings": settings,
            "grid": {k: v.tolist() for k, v in GRID.items()},
            "fresh": FRESH,
        },
        metrics=metrics,
        results={
            f"{s}/{k}": np.array([r[k] for r in results[s]])
            for s in settings
            for k in results[s][0]
        },
        data=None,
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, table.csv, figure.png (both settings only), run.json")
    return rows


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
