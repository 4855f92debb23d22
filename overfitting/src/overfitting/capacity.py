"""What overfitting is: training and validation error as a model's capacity grows.

k-nearest neighbours on scikit-learn's digits, with a fixed fraction of the labels flipped to a
wrong class: noise that no model should learn. With k = 1 the model memorises every training
label, noise included: training error 0, validation error high. A larger k votes over more
neighbours: less capacity, so the noise is outvoted, until a very large k blurs the digits
themselves. Validation error traces a U and its bottom is the capacity to use; training error
keeps falling as capacity grows, so it can never find that bottom.

Run: `uv run of-capacity` (2 random splits, seconds) or `uv run of-capacity --full` (20).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import ShuffleSplit, validation_curve
from sklearn.neighbors import KNeighborsClassifier

from overfitting import figures
from overfitting.common import finish, now, rng_for, save_figure, write_table
from overfitting.plumbing import BadInput, check_args, finite_float, make_parser, run_at_edge

# %%
# The data: digits with a fraction of the labels wrong
# ----------------------------------------------------
# The same flipped labels in training and validation: the validation labels are as noisy as
# real labels would be, so even a model that knew every true digit would score an error of about
# the flipped fraction on them (the noise floor).


def noisy_digits(seed: int, flip: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 1,797 digits (8 x 8 pixels, integers 0-16) with round(flip x 1,797) labels moved to
    another class, chosen by the seed. Returns the pixels, the noisy labels and which flipped."""
    X, y = load_digits(return_X_y=True)
    rng = rng_for(seed)
    flipped = np.zeros(len(y), dtype=bool)
    flipped[rng.choice(len(y), round(flip * len(y)), replace=False)] = True
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 10, flipped.sum())) % 10  # never the true class
    return X, noisy, flipped


# %%
# The curve: one k-NN per k, scored on its own training half and on the other half
# --------------------------------------------------------------------------------
# `validation_curve` fits `KNeighborsClassifier(n_neighbors=k)` for every k on each training half
# and scores it on that training half and on the held-out half. Each split is a new random half
# (50/50), so the band over splits shows how much one split alone would move the curve.


@dataclass(frozen=True)
class Setting:
    flip: float  # fraction of labels flipped
    k_max: int  # k = 1 .. k_max
    splits: int  # random 50/50 train/validation splits


QUICK = Setting(flip=0.2, k_max=50, splits=2)
FULL = Setting(flip=0.2, k_max=50, splits=20)


def capacity_curve(seed: int, s: Setting) -> dict[str, np.ndarray]:
    """Training and validation error (k x splits) for k = 1 .. k_max."""
    X, y, _ = noisy_digits(seed, s.flip)
    ks = np.arange(1, s.k_max + 1)
    train_acc, val_acc = validation_curve(
        KNeighborsClassifier(),
        X,
        y,
        param_name="n_neighbors",
        param_range=ks,
        cv=ShuffleSplit(n_splits=s.splits, test_size=0.5, random_state=seed),
    )
    return {"k": ks, "train_error": 1 - train_acc, "val_error": 1 - val_acc}


# %%
# The table: a few k, and the best one
# ------------------------------------

SHOWN = (1, 2, 3, 5, 8, 13, 20, 30, 50)


def best_k(curve: dict[str, np.ndarray]) -> int:
    """The k with the lowest mean validation error (the smallest such k on a tie)."""
    return int(curve["k"][np.argmin(curve["val_error"].mean(1))])


def summary_rows(curve: dict[str, np.ndarray]) -> list[dict]:
    """Mean training and validation error (and the validation range over splits) at a few k."""
    best = best_k(curve)
    rows = []
    for i, k in enumerate(curve["k"]):
        if k in SHOWN or k == best:
            val = curve["val_error"][i]
            rows.append(
                {
                    "k": int(k),
                    "training error": float(curve["train_error"][i].mean()),
                    "validation error": float(val.mean()),
                    "validation min": float(val.min()),
                    "validation max": float(val.max()),
                    "best": "<- lowest validation error" if k == best else "",
                }
            )
    return rows


# %%
# The command
# -----------


def run(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    """Draw the capacity curve; print and write the table, the figure and run.json."""
    parser = make_parser(__doc__.splitlines()[0], "capacity")
    parser.add_argument("--flip", type=finite_float, help="fraction of labels flipped (0.2)")
    parser.add_argument("--k-max", type=int, help="largest k (default 50)")
    parser.add_argument("--splits", type=int, help="random 50/50 splits (quick 2, full 20)")
    args = parser.parse_args(argv)
    check_args(args)
    if args.flip is not None and not (0 <= args.flip < 0.9):
        raise BadInput(f"--flip must be at least 0 and below 0.9, got {args.flip}")
    if args.k_max is not None and args.k_max > 898:  # a training half holds 898 digits
        raise BadInput(f"--k-max must be at most 898, got {args.k_max}")
    base = FULL if args.full else QUICK
    s = Setting(
        flip=base.flip if args.flip is None else args.flip,
        k_max=args.k_max or base.k_max,
        splits=args.splits or base.splits,
    )
    started = now()
    curve = capacity_curve(args.seed, s)
    print(write_table(args.out, summary_rows(curve)))
    save_figure(figures.capacity(curve, s), args.out / "figure.png")
    train, val, best = curve["train_error"].mean(1), curve["val_error"].mean(1), best_k(curve)
    metrics = {
        "best_k": best,
        "val_error_best": float(val[best - 1]),
        "val_error_k1": float(val[0]),
        "val_error_kmax": float(val[-1]),
        "train_error_k1": float(train[0]),
        "train_error_best": float(train[best - 1]),
        "train_error_kmax": float(train[-1]),
    }
    print(
        " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
    )
    X, y, _ = noisy_digits(args.seed, s.flip)
    finish(
        args.out,
        args=args,
        config=s.__dict__,
        metrics=metrics,
        results=curve,
        data=(X, y),
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, table.csv, figure.png, run.json")
    return curve


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
