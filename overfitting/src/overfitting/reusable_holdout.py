"""Adaptive reuse of a holdout set, and Thresholdout (Dwork et al., "The reusable holdout", Science 2015).

The labels are coin flips, independent of d standard-normal features: no classifier can beat 50%.
An analyst picks features whose correlation with the label is large on the training set AND
confirmed (same sign, also large) on the holdout set, then builds a sign-weighted sum of the top k.
Because the holdout took part in choosing, its accuracy climbs far above 50% while accuracy on
fresh data stays at 50%. Thresholdout answers the same holdout questions with the training value
unless the two disagree by more than a noisy threshold, and then with a noisy holdout value: the
holdout stays honest. Paper settings: n = d = 10,000, T = 0.04, tau = 0.01, 100 repetitions.

Run: `uv run of-holdout` (quick) or `uv run of-holdout --full` (the paper's size, 100 repetitions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from overfitting.common import (
    UsageError,
    check_args,
    cli,
    finish,
    make_parser,
    new_figure,
    now,
    rng_for,
    save_figure,
    write_table,
)


class Thresholdout:
    """Dwork et al.'s reusable holdout: answer a query with the training value unless the holdout
    disagrees by more than a noisy threshold; then answer with a noisy holdout value.

    `threshold` (T) and `sigma` are on the scale of the query values (here correlations and
    accuracies). `budget` counts how many times the holdout value may be released; the paper's
    experiment does not run out, so the default is unlimited.
    """

    def __init__(
        self,
        threshold: float,
        sigma: float,
        rng: np.random.Generator,
        budget: float = math.inf,
    ) -> None:
        self.threshold, self.sigma, self.rng, self.budget = threshold, sigma, rng, budget
        self.noisy_threshold = threshold + rng.laplace(0, 2 * sigma)
        self.holdout_releases = 0

    def answer(self, train_value: float, holdout_value: float) -> float:
        """One query: the training value, or (if they disagree) a noisy holdout value."""
        if self.budget < 1:
            raise RuntimeError("Thresholdout budget exhausted")
        if abs(holdout_value - train_value) > self.noisy_threshold + self.rng.laplace(
            0, 4 * self.sigma
        ):
            self.budget -= 1
            self.holdout_releases += 1
            self.noisy_threshold = self.threshold + self.rng.laplace(0, 2 * self.sigma)
            return holdout_value + self.rng.laplace(0, self.sigma)
        return train_value

    def answer_many(self, train_values: np.ndarray, holdout_values: np.ndarray) -> np.ndarray:
        """Queries answered one after another (each answer may move the noisy threshold)."""
        return np.array(
            [self.answer(t, h) for t, h in zip(train_values, holdout_values, strict=True)]
        )


@dataclass(frozen=True)
class Setting:
    """Size of one experiment. The paper: n = d = 10,000; k up to 500; 100 repetitions."""

    n: int  # samples in each of training, holdout and fresh sets
    d: int  # features
    reps: int
    k_max: int
    k_step: int
    signal_features: int = 0  # features truly correlated with the label (the with-signal variant)
    signal_strength: float = 6.0  # their correlation, in units of 1/sqrt(n)
    threshold: float | None = None  # Thresholdout's T; None = 4/sqrt(n) (the paper's 0.04)
    sigma: float | None = None  # Thresholdout's noise scale; None = 1/sqrt(n) (the paper's 0.01)

    @property
    def T(self) -> float:
        return self.threshold if self.threshold is not None else 4 / math.sqrt(self.n)

    @property
    def noise(self) -> float:
        return self.sigma if self.sigma is not None else 1 / math.sqrt(self.n)

    @property
    def ks(self) -> np.ndarray:
        return np.arange(self.k_step, self.k_max + 1, self.k_step)


QUICK = Setting(n=10_000, d=10_000, reps=5, k_max=500, k_step=50)
FULL = Setting(n=10_000, d=10_000, reps=100, k_max=500, k_step=25)
CHUNK = 1_000  # features generated at a time: memory stays ~80 MB at the paper's size


def draw_features(
    rng: np.random.Generator, y: np.ndarray, columns: np.ndarray, s: Setting
) -> np.ndarray:
    """Standard-normal features for the given column indices; the first `signal_features`
    columns are shifted with the label so their correlation is about strength / sqrt(n)."""
    X = rng.standard_normal((len(y), len(columns)), dtype=np.float32)
    carries = columns < s.signal_features
    if carries.any():
        X[:, carries] += (s.signal_strength / math.sqrt(s.n)) * y[:, None]
    return X


def select_features(corr_train: np.ndarray, corr_holdout: np.ndarray, n: int) -> np.ndarray:
    """The analyst's rule: both correlations above 1/sqrt(n) in size and of the same sign.
    Returns candidate positions, strongest training correlation first."""
    cut = 1 / math.sqrt(n)
    ok = (np.abs(corr_train) > cut) & (np.abs(corr_holdout) > cut)
    ok &= np.sign(corr_train) == np.sign(corr_holdout)
    idx = np.flatnonzero(ok)
    return idx[np.argsort(-np.abs(corr_train[idx]), kind="stable")]


def accuracy(X: np.ndarray, weights: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the sign-weighted sum of the selected features (ties count as wrong)."""
    return float(np.mean(np.sign(X @ weights) == y))


def one_run(seed: int, rep: int, s: Setting) -> dict[str, np.ndarray]:
    """One repetition: train/holdout/fresh accuracy over k, for the standard holdout and for
    Thresholdout (by default T = 4/sqrt(n), sigma = 1/sqrt(n): the paper's 0.04 and 0.01 at
    n = 10,000, scaled with the standard error of a correlation for other n)."""
    rng = rng_for(seed, rep)
    y_train, y_hold, y_fresh = (rng.choice(np.array([-1, 1], dtype=np.float32), s.n) for _ in "thf")
    guard = Thresholdout(s.T, s.noise, rng_for(seed, rep, 1))

    # Pass over the features in chunks; keep only the columns some analyst could select
    # (training correlation above 1/sqrt(n)): at the paper's size that is ~1/3 of them.
    kept_train, kept_hold, kept_cols = [], [], []
    corr_t, corr_h, corr_h_thr = [], [], []
    for start in range(0, s.d, CHUNK):
        cols = np.arange(start, min(start + CHUNK, s.d))
        Xt, Xh = draw_features(rng, y_train, cols, s), draw_features(rng, y_hold, cols, s)
        ct, ch = Xt.T @ y_train / s.n, Xh.T @ y_hold / s.n
        keep = np.abs(ct) > 1 / math.sqrt(s.n)
        kept_train.append(Xt[:, keep])
        kept_hold.append(Xh[:, keep])
        kept_cols.append(cols[keep])
        corr_t.append(ct[keep])
        corr_h.append(ch[keep])
        # Every holdout correlation the analyst looks at goes through Thresholdout.
        corr_h_thr.append(guard.answer_many(ct[keep], ch[keep]))
    Xt, Xh = np.hstack(kept_train), np.hstack(kept_hold)
    cols, ct = np.concatenate(kept_cols), np.concatenate(corr_t)

    out = {}
    for mode, ch in (
        ("standard", np.concatenate(corr_h)),
        ("thresholdout", np.concatenate(corr_h_thr)),
    ):
        ranked = select_features(ct, ch, s.n)
        # Fresh data are only ever used on the selected columns, so only those are drawn.
        top = ranked[: s.k_max]
        X_fresh = draw_features(rng, y_fresh, cols[top], s)
        rows = []
        for k in s.ks:
            chosen = top[:k]
            w = np.sign(ct[chosen])
            train = accuracy(Xt[:, chosen], w, y_train)
            hold = accuracy(Xh[:, chosen], w, y_hold)
            if mode == "thresholdout":
                hold = guard.answer(train, hold)
            fresh = accuracy(X_fresh[:, :k], w, y_fresh)
            rows.append((train, hold, fresh, len(chosen)))
        out[mode] = np.array(rows)
    out["holdout_releases"] = np.array([guard.holdout_releases])
    # Did Thresholdout answer the last accuracy query with the training value (a "spike")?
    out["spike"] = np.array([out["thresholdout"][-1, 1] == out["thresholdout"][-1, 0]])
    return out


def summarise(runs: list[dict[str, np.ndarray]], s: Setting) -> list[dict]:
    """Mean and std over repetitions, per mode and k."""
    rows = []
    for mode in ("standard", "thresholdout"):
        stacked = np.stack([r[mode] for r in runs])  # reps x ks x (train, holdout, fresh, used)
        for i, k in enumerate(s.ks):
            mean, std = stacked[:, i].mean(0), stacked[:, i].std(0)
            # The median is the typical run: Thresholdout's Laplace noise now and then lifts the
            # noisy threshold above the train-holdout gap, and that run reports its training
            # accuracy (~0.69) instead, a rare spike that moves a small-sample mean.
            median = np.median(stacked[:, i], axis=0)
            rows.append(
                {
                    "holdout": mode,
                    "k": int(k),
                    "features_used": float(mean[3]),
                    "train": float(mean[0]),
                    "holdout_reported": float(mean[1]),
                    "holdout_std": float(std[1]),
                    "holdout_median": float(median[1]),
                    "fresh": float(mean[2]),
                    "fresh_std": float(std[2]),
                }
            )
    return rows


def plot(rows: list[dict], s: Setting):
    """The paper's Fig. 1 (or 2 with signal): standard holdout (left) vs Thresholdout (right)."""
    fig, axes = new_figure(ncols=2, width=4.8, height=3.6)
    for ax, mode in zip(axes[0], ("standard", "thresholdout"), strict=True):
        part = [r for r in rows if r["holdout"] == mode]
        k = [r["k"] for r in part]
        for key, color, label in (
            ("train", "tab:blue", "training"),
            ("holdout_reported", "tab:red", "holdout (as reported)"),
            ("fresh", "tab:green", "fresh data (truth)"),
        ):
            ax.plot(k, [r[key] for r in part], "o-", ms=3, color=color, label=label)
        std = np.array([r["holdout_std"] for r in part])
        mean = np.array([r["holdout_reported"] for r in part])
        ax.fill_between(k, mean - std, mean + std, color="tab:red", alpha=0.2)
        ax.axhline(0.5, color="k", lw=0.8, ls="--")
        ax.set_ylim(0.45, 0.8)
        ax.set_xlabel("number of selected features k")
        ax.set_ylabel("accuracy")
        ax.set_title("standard holdout, reused" if mode == "standard" else "Thresholdout")
        ax.legend(fontsize=8, loc="upper left")
    what = "no signal" if s.signal_features == 0 else f"{s.signal_features} signal features"
    fig.suptitle(f"Reusing a holdout ({what}; n = d = {s.n:,}; {s.reps} repetitions)", fontsize=10)
    fig.tight_layout()
    return fig


def run(argv: list[str] | None = None) -> list[dict]:
    """Run the experiment; print and write the table, the figure and run.json."""
    parser = make_parser(__doc__.splitlines()[0], "reusable_holdout")
    parser.add_argument("--n", type=int, help="samples per set (default 10,000)")
    parser.add_argument("--d", type=int, help="features (default 10,000)")
    parser.add_argument("--reps", type=int, help="repetitions (quick 5, full 100)")
    parser.add_argument("--k-max", type=int, help="largest k (default d/20: 500 at d = 10,000)")
    parser.add_argument(
        "--signal",
        action="store_true",
        help="the paper's second variant: 20 features correlated with the label (strength 6/sqrt(n))",
    )
    parser.add_argument("--threshold", type=float, help="Thresholdout T (default 4/sqrt(n))")
    parser.add_argument("--sigma", type=float, help="Thresholdout noise (default 1/sqrt(n))")
    args = parser.parse_args(argv)
    check_args(args)
    for name in ("threshold", "sigma"):
        value = getattr(args, name)
        if value is not None and not (0 < value < 1):
            raise UsageError(f"--{name} must be between 0 and 1, got {value}")
    base = FULL if args.full else QUICK
    n, d = args.n or base.n, args.d or base.d
    k_max = args.k_max or max(10, (base.k_max * d) // base.d)
    if k_max > d:
        raise UsageError(f"--k-max {k_max} is larger than --d {d}")
    s = Setting(
        n=n,
        d=d,
        reps=args.reps or base.reps,
        k_max=k_max,
        k_step=max(1, k_max // (base.k_max // base.k_step)),
        signal_features=20 if args.signal else 0,
        threshold=args.threshold,
        sigma=args.sigma,
    )
    started = now()
    runs = [one_run(args.seed, r, s) for r in tqdm(range(s.reps), desc="repetitions", disable=None)]
    rows = summarise(runs, s)
    print(write_table(args.out, rows))
    save_figure(plot(rows, s), args.out / "figure.png")
    last = {r["holdout"]: r for r in rows if r["k"] == s.ks[-1]}
    metrics = {
        "k_max": float(s.ks[-1]),
        "standard_train": last["standard"]["train"],
        "standard_holdout": last["standard"]["holdout_reported"],
        "standard_fresh": last["standard"]["fresh"],
        "thresholdout_holdout": last["thresholdout"]["holdout_reported"],
        "thresholdout_holdout_median": last["thresholdout"]["holdout_median"],
        "thresholdout_fresh": last["thresholdout"]["fresh"],
        "mean_holdout_releases": float(np.mean([r["holdout_releases"] for r in runs])),
        "fraction_runs_thresholdout_reported_training_at_k_max": float(
            np.mean([r["spike"][0] for r in runs])
        ),
    }
    print(" ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    results = {f"{m}_{i}": r[m] for i, r in enumerate(runs) for m in ("standard", "thresholdout")}
    finish(
        args.out,
        args=args,
        config={**s.__dict__, "threshold": s.T, "sigma": s.noise},
        metrics=metrics,
        results=results,
        data=None,
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, table.csv, figure.png, run.json")
    return rows


main = cli(run)

if __name__ == "__main__":
    raise SystemExit(main())
