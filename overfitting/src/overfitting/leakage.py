"""Leakage: four ways test information slips into training, each measured against the honest score.

(a) ESL 7.10.2: choose features on ALL data, then cross-validate -> near-zero error on pure noise.
(b) Near-duplicates (shifted, noised copies of digits) on both sides of a random split.
(c) Several samples per subject: KFold lets the model recognise subjects; GroupKFold does not.
(d) Preprocessing fit before the split: scaling (a small leak) and whole-table imputation that
    sees the outcome column (a large one). Inside a `Pipeline` neither can happen.

Run: `uv run of-leakage` (quick) or `uv run of-leakage --full` (slide quality).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import shift as shift_image
from sklearn.datasets import load_digits, make_classification
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from overfitting import figures
from overfitting.common import finish, mean_ci, now, rng_for, save_figure, write_table
from overfitting.plumbing import BadInput, check_args, make_parser, run_at_edge


@dataclass(frozen=True)
class Sizes:
    """How many repetitions each part runs (the quick default vs --full)."""

    esl_reps: int
    dup_reps: int
    group_reps: int
    prep_reps: int


QUICK = Sizes(esl_reps=20, dup_reps=10, group_reps=20, prep_reps=20)
FULL = Sizes(esl_reps=100, dup_reps=50, group_reps=100, prep_reps=100)


# %%
# (a) ESL 7.10.2: feature selection outside vs inside cross-validation
# --------------------------------------------------------------------


def noise_problem(rng: np.random.Generator, n: int = 50, p: int = 5000) -> tuple:
    """ESL's setting: 50 samples, 5,000 standard-normal features, two equal classes, NO signal."""
    X = rng.standard_normal((n, p))
    y = rng.permutation(np.repeat([0, 1], n // 2))
    return X, y


def esl_wrong_and_right(seed: int, rep: int, k: int = 100, folds: int = 5) -> tuple[float, float]:
    """CV error of 1-nearest-neighbour on the k 'best' features, chosen the wrong and right way."""
    X, y = noise_problem(rng_for(seed, 1, rep))
    cv = StratifiedKFold(folds, shuffle=True, random_state=rep)
    # Wrong: the k features most correlated with y over ALL 50 samples, test folds included.
    chosen = SelectKBest(f_classif, k=k).fit(X, y).get_support()
    wrong = 1 - cross_val_score(KNeighborsClassifier(1), X[:, chosen], y, cv=cv).mean()
    # Right: selection is a step of the model, refit inside every training fold.
    model = make_pipeline(SelectKBest(f_classif, k=k), KNeighborsClassifier(1))
    right = 1 - cross_val_score(model, X, y, cv=cv).mean()
    return float(wrong), float(right)


# %%
# (b) Near-duplicates across the split
# ------------------------------------


def jittered_copies(
    images: np.ndarray, copies: int, rng: np.random.Generator, noise: float = 1.0
) -> np.ndarray:
    """`copies` near-duplicates of each 8x8 image: shifted by up to one pixel, plus pixel noise.
    This is how augmented or re-captured samples look: different bytes, same underlying item."""
    out = np.empty((len(images), copies, 64))
    for i, img in enumerate(images.reshape(-1, 8, 8)):
        for c in range(copies):
            dy, dx = rng.integers(-1, 2, size=2)
            moved = shift_image(img, (dy, dx), order=0, mode="constant")
            out[i, c] = np.clip(moved + rng.normal(0, noise, (8, 8)), 0, 16).ravel()
    return out


def near_duplicates(
    seed: int, rep: int, n_items: int = 300, copies: int = 4
) -> tuple[float, float, float]:
    """Accuracy of 1-NN with a random split (copies on both sides) vs a split by original item,
    and the 'truth': the group-split model (the one the honest estimate describes) scored on
    digits it has never seen in any form."""
    rng = rng_for(seed, 2, rep)
    digits = load_digits()
    order = rng.permutation(len(digits.target))
    used, fresh = order[:n_items], order[n_items : n_items + 500]
    X = jittered_copies(digits.data[used], copies, rng).reshape(-1, 64)
    y = np.repeat(digits.target[used], copies)
    item = np.repeat(np.arange(n_items), copies)  # which original each row is a copy of
    X_fresh = jittered_copies(digits.data[fresh], 1, rng).reshape(-1, 64)
    y_fresh = digits.target[fresh]

    def score(train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
        model = KNeighborsClassifier(1).fit(X[train], y[train])
        return model.score(X[test], y[test]), model.score(X_fresh, y_fresh)

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.5, random_state=rep)
    leaky, _ = score(tr, te)
    tr, te = next(GroupShuffleSplit(1, test_size=0.5, random_state=rep).split(X, y, item))
    honest, truth = score(tr, te)
    return float(leaky), float(honest), float(truth)


# %%
# (c) Grouped data: several samples per subject
# ---------------------------------------------


def subjects(
    rng: np.random.Generator, n_subjects: int = 40, per_subject: int = 10, p: int = 10
) -> tuple:
    """Each subject has a diagnosis (the label) and a personal 'fingerprint' in every sample.
    The diagnosis itself shifts the features only weakly: the fingerprint is what a model finds."""
    diagnosis = rng.permutation(np.arange(n_subjects) % 2)
    fingerprint = rng.standard_normal((n_subjects, p))
    group = np.repeat(np.arange(n_subjects), per_subject)
    y = diagnosis[group]
    X = fingerprint[group] + 0.3 * rng.standard_normal((len(group), p))
    X[:, 0] += 0.5 * (2 * y - 1)  # the weak, real signal
    return X, y, group


def grouped_cv(seed: int, rep: int, folds: int = 5) -> tuple[float, float, float]:
    """CV accuracy with KFold (a subject's samples on both sides) vs GroupKFold, and the truth:
    accuracy on 2,000 samples from 200 brand-new subjects."""
    rng = rng_for(seed, 3, rep)
    X, y, group = subjects(rng)
    model = KNeighborsClassifier(5)
    kfold = cross_val_score(model, X, y, cv=KFold(folds, shuffle=True, random_state=rep)).mean()
    grouped = cross_val_score(model, X, y, groups=group, cv=GroupKFold(folds)).mean()
    X_new, y_new, _ = subjects(rng, n_subjects=200)
    truth = model.fit(X, y).score(X_new, y_new)
    return float(kfold), float(grouped), float(truth)


# %%
# (d) Preprocessing fit before the split vs inside a Pipeline
# -----------------------------------------------------------


def scaling_before_split(seed: int, rep: int) -> tuple[float, float]:
    """StandardScaler fit on all rows, then split, vs scaler inside the pipeline (fit on train)."""
    state = 10_000 * seed + rep
    X, y = make_classification(120, 30, n_informative=5, flip_y=0.1, random_state=state)
    X = X * np.exp(rng_for(seed, 4, rep).normal(0, 2, X.shape[1]))  # very different scales
    model = KNeighborsClassifier(5)
    cv = StratifiedKFold(5, shuffle=True, random_state=rep)
    leaky = cross_val_score(model, StandardScaler().fit_transform(X), y, cv=cv).mean()
    honest = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv).mean()
    return float(leaky), float(honest)


def imputation_before_split(
    seed: int, rep: int, missing: float = 0.4
) -> tuple[float, float, float]:
    """KNN imputation of the whole table (outcome column included, a common shortcut with data
    frames) before the split, vs imputing the features only, inside the pipeline. Two mistakes
    hide in the shortcut, so a control separates them: imputing the features only, but still
    before the split (test rows help fill training rows, and the other way round)."""
    state = 10_000 * seed + rep
    X, y = make_classification(300, 10, n_informative=4, flip_y=0.2, random_state=state)
    X[rng_for(seed, 5, rep).random(X.shape) < missing] = np.nan
    model = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(5, shuffle=True, random_state=rep)
    table = np.column_stack([X, y])
    X_filled = KNNImputer(n_neighbors=5).fit_transform(table)[:, :-1]
    leaky = cross_val_score(model, X_filled, y, cv=cv).mean()
    honest = cross_val_score(make_pipeline(KNNImputer(n_neighbors=5), model), X, y, cv=cv).mean()
    X_features_only = KNNImputer(n_neighbors=5).fit_transform(X)  # before the split, no y
    control = cross_val_score(model, X_features_only, y, cv=cv).mean()
    return float(leaky), float(honest), float(control)


# %%
# Running, reporting
# ------------------


def summary_rows(part: str, labels: list[str], values: np.ndarray) -> list[dict]:
    """One table row per estimate (mean, std and a 95% CI over repetitions), then the leak itself:
    leaky minus honest, paired within each repetition (and, where a part has a control, the two
    halves of the leak it separates)."""

    def row(estimate: str, column: np.ndarray) -> dict:
        m, lo, hi = mean_ci(column)
        std = float(column.std(ddof=1))
        return {"part": part, "estimate": estimate, "mean": m, "std": std} | {
            "ci95_low": lo,
            "ci95_high": hi,
            "reps": len(column),
        }

    rows = [row(label, column) for label, column in zip(labels, values.T, strict=True)]
    pairs = [(0, 1), *CONTRASTS.get(part, [])]
    return rows + [row(f"{labels[i]} - {labels[j]}", values[:, i] - values[:, j]) for i, j in pairs]


# (d2): the outcome column's share (with y - features only) and the before-the-split share
# (features only - Pipeline) of the leak.
CONTRASTS = {"d2_imputation": [(0, 2), (2, 1)]}


# fmt: off
PARTS = {  # part: (title, metric, labels (leaky first, honest second), function, Sizes field)
    "a_esl_selection": ("(a) ESL 7.10.2: select features, then CV", "CV error",
                        ["wrong way", "right way"], esl_wrong_and_right, "esl_reps"),
    "b_near_duplicates": ("(b) near-duplicate digits across the split", "accuracy",
                          ["random split", "split by item", "unseen digits"], near_duplicates,
                          "dup_reps"),
    "c_grouped": ("(c) 10 samples per subject", "accuracy",
                  ["KFold", "GroupKFold", "new subjects"], grouped_cv, "group_reps"),
    "d1_scaling": ("(d1) scaler fit before the split", "accuracy",
                   ["scaled before", "in Pipeline"], scaling_before_split, "prep_reps"),
    "d2_imputation": ("(d2) imputed with the outcome column", "accuracy",
                      ["imputed before", "in Pipeline", "features only, before"],
                      imputation_before_split, "prep_reps"),
}
# fmt: on


# %%
# The command
# -----------


def run(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run every leakage part; print and write the table, the figure and run.json."""
    parser = make_parser(__doc__.splitlines()[0], "leakage")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts to run")
    parser.add_argument("--reps", type=int, help="repetitions for every part (overrides the size)")
    args = parser.parse_args(argv)
    check_args(args)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        bad = ", ".join(unknown) or "(none)"
        raise BadInput(f"unknown part {bad}; choose from {', '.join(PARTS)}")
    started = now()
    sizes = FULL if args.full else QUICK
    if args.reps:
        sizes = Sizes(args.reps, args.reps, args.reps, args.reps)
    results = {}
    for part in parts:  # each repetition has its own random stream: rows = repetitions
        reps = tqdm(range(getattr(sizes, PARTS[part][4])), desc=part, leave=False, disable=None)
        results[part] = np.array([PARTS[part][3](args.seed, r) for r in reps])
    rows = [row for part, v in results.items() for row in summary_rows(part, PARTS[part][2], v)]
    print(write_table(args.out, rows))
    save_figure(figures.leakage(results, args.seed), args.out / "figure.png")
    metrics = {f"{part}_leak": float((v[:, 0] - v[:, 1]).mean()) for part, v in results.items()}
    for part, v in results.items():
        for label, column in zip(PARTS[part][2], v.T, strict=True):
            metrics[f"{part}_{label.replace(' ', '_')}"] = float(column.mean())
    finish(
        args.out,
        args=args,
        config={"parts": parts, "sizes": sizes.__dict__},
        metrics=metrics,
        results=results,
        data=[load_digits().data],
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, table.csv, figure.png, run.json")
    return results


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
