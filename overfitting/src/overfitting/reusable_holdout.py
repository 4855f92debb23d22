"""Adaptive reuse of a holdout set, and Thresholdout (Dwork et al., "The reusable holdout", Science 2015).

The labels are coin flips, independent of d standard-normal features: no classifier can beat 50%.
An analyst keeps features whose correlation with the label is large on the training set AND
confirmed (same sign, also large) on the holdout set, then classifies by a sign-weighted sum of the
top k. Because the holdout took part in choosing, its accuracy climbs far above 50% while accuracy
on fresh data stays at 50%. Thresholdout answers the same holdout questions with the training
value unless the two disagree by more than a noisy threshold, and then with a noisy holdout value.

Thresholdout comes in two versions (`thresholdout.py`): `authors`, the authors' experiment code
that drew the published Fig. 1 (the default), and `paper`, the paper's algorithm box.

Run: `uv run of-holdout` (quick) or `uv run of-holdout --full --variant both` (the paper's size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from overfitting import figures
from overfitting.common import finish, now, rng_for, save_figure, write_table
from overfitting.plumbing import BadInput, check_args, finite_float, make_parser, run_at_edge
from overfitting.thresholdout import VARIANTS

# The plain reused holdout, then each Thresholdout of `thresholdout.py` (the paper's box, the
# authors' code): every holdout question below goes through one of them.
MODES = ("standard", *VARIANTS)

# %%
# The experiment's size and the analyst
# -------------------------------------


@dataclass(frozen=True)
class Setting:
    """Size of one experiment. The paper: n = d = 10,000; k up to 500; 100 repetitions."""

    n: int  # samples in each of training, holdout and fresh sets
    d: int  # features
    reps: int
    k_max: int
    signal_features: int = 0  # features truly correlated with the label (the with-signal variant)
    signal_strength: float = 6.0  # their correlation, in units of 1/sqrt(n)
    threshold: float | None = None  # Thresholdout's T; None = 4/sqrt(n), the authors' code
    sigma: float | None = None  # Thresholdout's noise scale; None = 1/sqrt(n), the authors' code

    @property
    def T(self) -> float:
        return self.threshold if self.threshold is not None else 4 / math.sqrt(self.n)

    @property
    def noise(self) -> float:
        return self.sigma if self.sigma is not None else 1 / math.sqrt(self.n)

    @property
    def ks(self) -> np.ndarray:
        """The authors' k values (10, 20, ..., 500), scaled to k_max."""
        authors = np.array([10, 20, 30, 45, 70, 100, 150, 200, 250, 300, 400, 500])
        return np.unique(np.maximum(1, np.round(authors * self.k_max / 500).astype(int)))


QUICK = Setting(n=10_000, d=10_000, reps=5, k_max=500)
FULL = Setting(n=10_000, d=10_000, reps=100, k_max=500)
CHUNK = 1_000  # features generated at a time: memory stays bounded at the paper's size
# The features an analyst may select (~1/3 of them) are kept for training and holdout in float32:
# about 2.7 bytes per n x d. The paper's 10,000 x 10,000 needs ~0.3 GB; allow four times that.
MAX_VALUES = 400_000_000


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


# %%
# One repetition: every holdout question goes through the guard
# -------------------------------------------------------------
# Each mode has its own random stream (guard noise, fresh data), so running one variant or both
# gives the same numbers for each.


def one_run(seed: int, rep: int, s: Setting, variants: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Train/holdout/fresh accuracy over k for the standard holdout and each Thresholdout."""
    rng = rng_for(seed, rep)
    y_train, y_hold = (rng.choice(np.array([-1, 1], dtype=np.float32), s.n) for _ in "th")
    guards = {v: VARIANTS[v](s.T, s.noise, rng_for(seed, rep, 1, MODES.index(v))) for v in variants}

    # Pass over the features in chunks; keep only the columns some analyst could select
    # (training correlation above 1/sqrt(n)): at the paper's size that is ~1/3 of them.
    kept_train, kept_hold, kept_cols, corr_t = [], [], [], []
    corr_h = {m: [] for m in ("standard", *variants)}
    for start in range(0, s.d, CHUNK):
        cols = np.arange(start, min(start + CHUNK, s.d))
        Xt, Xh = draw_features(rng, y_train, cols, s), draw_features(rng, y_hold, cols, s)
        ct, ch = Xt.T @ y_train / s.n, Xh.T @ y_hold / s.n
        keep = np.abs(ct) > 1 / math.sqrt(s.n)
        kept_train.append(Xt[:, keep])
        kept_hold.append(Xh[:, keep])
        kept_cols.append(cols[keep])
        corr_t.append(ct[keep])
        corr_h["standard"].append(ch[keep])
        # Every holdout correlation the analyst looks at (all d of them) is a query.
        for v, guard in guards.items():
            corr_h[v].append(guard.answer_many(ct, ch)[keep])
    Xt, Xh = np.hstack(kept_train), np.hstack(kept_hold)
    cols, ct = np.concatenate(kept_cols), np.concatenate(corr_t)
    correlation_queries = {v: (g.queries, g.holdout_releases) for v, g in guards.items()}

    out = {}
    for mode, parts in corr_h.items():
        top = select_features(ct, np.concatenate(parts), s.n)[: s.k_max]
        # Fresh data are only ever used on the selected columns, so only those are drawn.
        y_fresh = rng_for(seed, rep, 10 + MODES.index(mode)).choice(
            np.array([-1, 1], dtype=np.float32), s.n
        )
        X_fresh = draw_features(rng_for(seed, rep, 20 + MODES.index(mode)), y_fresh, cols[top], s)
        rows = []
        for k in s.ks:
            w = np.sign(ct[top[:k]])
            train = accuracy(Xt[:, top[:k]], w, y_train)
            hold = accuracy(Xh[:, top[:k]], w, y_hold)
            if mode != "standard":
                hold = guards[mode].answer(train, hold)  # the accuracy query, guarded too
            rows.append((train, hold, accuracy(X_fresh[:, :k], w, y_fresh), len(top[:k])))
        out[mode] = np.array(rows)
    for v, guard in guards.items():
        q_corr, r_corr = correlation_queries[v]
        # queries and releases: correlations, then accuracies (the whole repetition's budget use)
        out[f"{v}_budget"] = np.array([q_corr, r_corr, guard.queries, guard.holdout_releases])
        # Did the guard answer the last accuracy query with the training value (a "spike")?
        out[f"{v}_spike"] = np.array([out[v][-1, 1] == out[v][-1, 0]])
    return out


# %%
# Summaries: the curves, and how often each guard let the holdout through
# -----------------------------------------------------------------------


def summarise(runs: list[dict[str, np.ndarray]], s: Setting, modes: tuple[str, ...]) -> list[dict]:
    """Mean, std (over repetitions, as the authors' code: ddof 0) and median, per mode and k."""
    rows = []
    for mode in modes:
        stacked = np.stack([r[mode] for r in runs])  # reps x ks x (train, holdout, fresh, used)
        for i, k in enumerate(s.ks):
            mean, std = stacked[:, i].mean(0), stacked[:, i].std(0)
            rows.append(
                {
                    "holdout": mode,
                    "k": int(k),
                    "features_used": float(mean[3]),
                    "train": float(mean[0]),
                    "holdout_reported": float(mean[1]),
                    "holdout_std": float(std[1]),
                    # The typical run: a rare spike (the guard answering with the training
                    # accuracy) moves a small-sample mean, not the median.
                    "holdout_median": float(np.median(stacked[:, i, 1])),
                    "fresh": float(mean[2]),
                    "fresh_std": float(std[2]),
                }
            )
    return rows


def variant_rows(runs: list[dict[str, np.ndarray]], rows: list[dict], s: Setting) -> list[dict]:
    """The two Thresholdouts side by side at the largest k: answer, truth and budget use."""
    out = []
    for v in VARIANTS:
        if f"{v}_budget" not in runs[0]:
            continue
        budget = np.stack([r[f"{v}_budget"] for r in runs]).astype(float)
        last = next(r for r in rows if r["holdout"] == v and r["k"] == s.ks[-1])
        out.append(
            {
                "variant": v,
                "holdout_at_k_max": last["holdout_reported"],
                "holdout_std": last["holdout_std"],
                "fresh": last["fresh"],
                "queries_per_rep": float(budget[:, 2].mean()),
                "releases_per_rep": float(budget[:, 3].mean()),
                "correlation_release_fraction": float((budget[:, 1] / budget[:, 0]).mean()),
                # Budget used: the box would need B at least this large (the code has no B).
                "budget_needed_max": float(budget[:, 3].max()),
                "spike_fraction": float(np.mean([r[f"{v}_spike"][0] for r in runs])),
            }
        )
    return out


# %%
# The command
# -----------


def setting_from(argv: list[str] | None) -> tuple[Any, Setting, tuple[str, ...]]:
    """The command line: options, checked before any work, as a Setting and the variants."""
    parser = make_parser(__doc__.splitlines()[0], "reusable_holdout")
    parser.add_argument("--n", type=int, help="samples per set (default 10,000)")
    parser.add_argument("--d", type=int, help="features (default 10,000)")
    parser.add_argument("--reps", type=int, help="repetitions (quick 5, full 100)")
    parser.add_argument("--k-max", type=int, help="largest k (default d/20: 500 at d = 10,000)")
    choices = (*VARIANTS, "both")  # the authors' code (the default), the paper's box, or both
    parser.add_argument("--variant", choices=choices, default="authors", help="Thresholdout")
    parser.add_argument("--signal", action="store_true", help="the paper's 20 signal features")
    parser.add_argument("--threshold", type=finite_float, help="Thresholdout T (default 4/sqrt(n))")
    parser.add_argument("--sigma", type=finite_float, help="Thresholdout noise (default 1/sqrt(n))")
    args = parser.parse_args(argv)
    check_args(args)
    for name in ("threshold", "sigma"):
        value = getattr(args, name)
        if value is not None and not (0 < value < 1):
            raise BadInput(f"--{name} must be between 0 and 1, got {value}")
    base = FULL if args.full else QUICK
    n, d = args.n or base.n, args.d or base.d
    k_max = args.k_max or max(10, (base.k_max * d) // base.d)
    if n * d > MAX_VALUES:
        raise BadInput(
            f"--n {n:,} x --d {d:,} is {n * d:,} feature values per set (about "
            f"{2.7 * n * d / 2**30:,.1f} GiB); at most {MAX_VALUES:,} (the paper's: 10,000 x 10,000)"
        )
    if k_max > d:
        raise BadInput(f"--k-max {k_max} is larger than --d {d}")
    signal = 20 if args.signal else 0
    s = Setting(n, d, args.reps or base.reps, k_max, signal, 6.0, args.threshold, args.sigma)
    return args, s, tuple(VARIANTS) if args.variant == "both" else (args.variant,)


def metrics_from(rows: list[dict], side_by_side: list[dict], s: Setting) -> dict[str, float]:
    """run.json's metrics: every mode at the largest k, and each guard's budget use."""
    last = {r["holdout"]: r for r in rows if r["k"] == s.ks[-1]}
    metrics = {"k_max": float(s.ks[-1])}
    metrics |= {f"standard_{k}": last["standard"][k] for k in ("train", "fresh")}
    metrics["standard_holdout"] = last["standard"]["holdout_reported"]
    for row in side_by_side:
        v = row["variant"]
        metrics |= {f"{v}_holdout": row["holdout_at_k_max"], f"{v}_fresh": row["fresh"]}
        metrics[f"{v}_holdout_median"] = last[v]["holdout_median"]
        for key in ("releases_per_rep", "correlation_release_fraction", "budget_needed_max"):
            metrics[f"{v}_{key}"] = row[key]
        metrics[f"{v}_spike_fraction"] = row["spike_fraction"]
    return metrics


def run(argv: list[str] | None = None) -> list[dict]:
    """Run the experiment; print and write the tables, the figure and run.json."""
    args, s, variants = setting_from(argv)
    modes = ("standard", *variants)
    started = now()
    reps = tqdm(range(s.reps), desc="repetitions", disable=None)
    runs = [one_run(args.seed, r, s, variants) for r in reps]
    rows = summarise(runs, s, modes)
    side_by_side = variant_rows(runs, rows, s)
    print(write_table(args.out, rows))
    print(write_table(args.out, side_by_side, "variants"))
    save_figure(figures.reusable_holdout(rows, s, modes), args.out / "figure.png")
    metrics = metrics_from(rows, side_by_side, s)
    print(" ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    results = {f"{key}_{i}": value for i, r in enumerate(runs) for key, value in r.items()}
    config = {**s.__dict__, "threshold": s.T, "sigma": s.noise, "variants": list(variants)}
    finish(args.out, args=args, config=config, metrics=metrics, results=results, data=None,
           started=started, argv=argv)  # fmt: skip
    print(f"wrote {args.out}/table.md, table.csv, variants.md, figure.png, run.json")
    return rows


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
