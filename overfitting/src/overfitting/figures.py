"""The figure of every experiment, as `of-all --figures` commits them and the notebooks show them.

Each function takes the results its experiment returns and gives a matplotlib figure: every
repetition is drawn, not only the mean, so the spread a single run hides is visible.
"""

from __future__ import annotations

import numpy as np

from overfitting import capacity as C
from overfitting import ladder as A
from overfitting import leakage as L
from overfitting import nested_cv as N
from overfitting import reusable_holdout as R
from overfitting import seed_lottery as S
from overfitting.common import mean_ci, new_figure

HOLDOUT_TITLES = {
    "standard": "standard holdout, reused",
    "authors": "Thresholdout, authors' code (Gaussian)",
    "paper": "Thresholdout, paper's box (Laplace)",
}


def capacity(curve: dict[str, np.ndarray], s: C.Setting):
    """Training and validation error against k, capacity growing to the right (k falling)."""
    fig, axes = new_figure(width=6.4, height=4.0)
    ax = axes[0, 0]
    k = curve["k"]
    for key, color, label in (
        ("train_error", "tab:blue", "training error"),
        ("val_error", "tab:red", "validation error"),
    ):
        ax.plot(k, curve[key].mean(1), "o-", ms=2.5, color=color, label=label)
        ax.fill_between(k, curve[key].min(1), curve[key].max(1), color=color, alpha=0.2)
    best = C.best_k(curve)
    ax.axvline(best, color="k", lw=0.8, ls=":", label=f"lowest validation error: k = {best}")
    ax.axhline(s.flip, color="gray", lw=0.8, ls="--", label=f"labels flipped: {s.flip:.0%}")
    ax.set_xscale("log")
    ax.set_xticks([1, 2, 5, 10, 20, 50], ["1", "2", "5", "10", "20", "50"])
    ax.invert_xaxis()  # small k = a more flexible model: capacity grows to the right
    ax.set_xlabel("k neighbours (log scale; capacity grows to the right)")
    ax.set_ylabel("error")
    ax.annotate("underfitting", (0.03, 0.04), xycoords="axes fraction", fontsize=9)
    ax.annotate("overfitting", (0.80, 0.04), xycoords="axes fraction", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"k-NN on digits, {s.flip:.0%} of labels flipped ({s.splits} random 50/50 splits, "
        "band = min-max)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def leakage(results: dict[str, np.ndarray], seed: int):
    """One panel per part (every repetition a dot, the mean a bar), then the leaks side by side."""
    fig, axes = new_figure(ncols=3, nrows=2, width=3.8, height=3.3)
    panels = axes.ravel()
    jitter = np.random.default_rng(seed)
    colors = ["tab:red", "tab:green", "tab:gray"]
    for ax, (part, values) in zip(panels, results.items(), strict=False):
        title, metric, labels, _, _ = L.PARTS[part]
        for j, column in enumerate(values.T):
            ax.bar(j, column.mean(), color=colors[j], alpha=0.35, width=0.7)
            ax.scatter(j + jitter.uniform(-0.2, 0.2, len(column)), column, s=8, color=colors[j])
        if part == "a_esl_selection":
            ax.axhline(0.5, color="k", ls="--", lw=1, label="true error 0.5")
            ax.legend(loc="upper left", fontsize=8)
            ax.set_ylim(0, 0.8)
        else:
            ax.set_ylim(max(0.0, values.min() - 0.05), 1.0)
        ax.set_xticks(range(values.shape[1]), labels, fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        ax.set_title(title, fontsize=9)
    # Last panel: the leak (leaky minus honest, paired per repetition) with its 95% CI.
    ax = panels[-1]
    names = [p for p in results if p != "a_esl_selection"]
    for i, part in enumerate(names):
        m, lo, hi = mean_ci(results[part][:, 0] - results[part][:, 1])
        ax.errorbar(m, i, xerr=[[m - lo], [hi - m]], fmt="o", color="tab:red", capsize=3)
    ax.axvline(0, color="k", lw=1)
    ax.set_yticks(range(len(names)), [p.split("_")[0] for p in names], fontsize=8)
    ax.set_xlabel("leak: leaky - honest accuracy (95% CI)", fontsize=8)
    ax.set_title("how much each leak inflates the score", fontsize=9)
    for extra in panels[len(results) : -1]:
        extra.set_visible(False)
    fig.suptitle(
        "Leakage: red = leaky estimate, green = honest estimate, gray = truth (d2: a control)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def reusable_holdout(rows: list[dict], s: R.Setting, modes: tuple[str, ...]):
    """The paper's Fig. 1 (Fig. 2 with signal): the standard holdout, then each Thresholdout."""
    fig, axes = new_figure(ncols=len(modes), width=4.6, height=3.6)
    for ax, mode in zip(axes[0], modes, strict=True):
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
        ax.set_title(HOLDOUT_TITLES[mode], fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    what = "no signal" if s.signal_features == 0 else f"{s.signal_features} signal features"
    fig.suptitle(
        f"Reusing a holdout ({what}; n = {s.n:,}, d = {s.d:,}; {s.reps} repetitions; "
        f"T = {s.T:.3g}, sigma = {s.noise:.3g})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def ladder(runs: list[dict[str, np.ndarray]], s: A.Setting):
    fig, axes = new_figure(ncols=2, width=4.8, height=3.6)
    titles = {"open": "open leaderboard (exact score)", "ladder": f"the Ladder (step {s.step:g})"}
    for ax, board in zip(axes[0], ("open", "ladder"), strict=True):
        stacked = np.stack([r[board] for r in runs])
        t = stacked[0, :, 0]
        for j, color, label in ((1, "tab:red", "public, as released"), (3, "tab:green", "private")):
            ax.plot(t, stacked[:, :, j].mean(0), color=color, label=label)
            ax.fill_between(
                t, stacked[:, :, j].min(0), stacked[:, :, j].max(0), color=color, alpha=0.2
            )
        ax.axhline(0.5, color="k", lw=0.8, ls="--", label="chance (the truth)")
        ax.set_ylim(0.45, 0.65)
        ax.set_xlabel("random submissions")
        ax.set_ylabel("accuracy of the majority vote")
        ax.set_title(titles[board], fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"Leaderboard attack on coin-flip labels (n = {s.n:,} public, {s.n:,} private; "
        f"{s.reps} repetitions, band = min-max)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def seed_lottery(grid: np.ndarray, scores: np.ndarray, ns: list[int]):
    """Left: the lottery (histogram, mean, best seed). Middle: best-of-N optimism.
    Right: per-seed B - A differences with the paired mean and both CIs."""
    fig, axes = new_figure(ncols=3, width=4.0, height=3.4)
    ax = axes[0, 0]
    flat = grid.ravel()
    ax.hist(flat, bins=15, color="tab:blue", alpha=0.7)
    ax.axvline(flat.mean(), color="k", ls="--", label=f"mean {flat.mean():.3f}")
    ax.axvline(flat.max(), color="tab:red", label=f"best seed {flat.max():.3f}")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("runs")
    ax.set_title(f"same pipeline, {flat.size} seed pairs", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    over = S.best_of_n_overstatement(flat, ns)
    ax.plot(list(over), list(over.values()), "o-", color="tab:red")
    ax.set_xscale("log")
    ax.set_xlabel("N seeds tried, best one reported")
    ax.set_ylabel("best - mean accuracy")
    ax.set_title("optimism of reporting the best seed", fontsize=10)

    ax = axes[0, 2]
    diff = scores[:, 1] - scores[:, 0]
    ax.scatter(range(len(diff)), diff, s=10, c=np.where(diff > 0, "tab:orange", "tab:blue"))
    ax.axhline(0, color="k", lw=0.8)
    for (name, (_, lo, hi)), color in zip(
        S.intervals(diff).items(), ("tab:red", "tab:green"), strict=True
    ):
        ax.axhspan(lo, hi, color=color, alpha=0.25, label=f"{name} 95% CI [{lo:+.3f}, {hi:+.3f}]")
    best = int(np.argmax(diff))
    ax.annotate(
        "cherry-picked seed",
        (best, diff[best]),
        xytext=(0.35, 0.92),
        textcoords="axes fraction",
        fontsize=8,
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_xlabel("seed (same split and init for A and B)")
    ax.set_ylabel("accuracy B - A")
    ax.set_title("'B beats A'? one seed vs all seeds", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def nested_cv(results: dict[str, list[dict[str, float]]]):
    """Left: reported vs true accuracy per development set (signal setting): points above the
    diagonal are optimistic. Right: optimism with 95% CIs in both settings."""
    fig, axes = new_figure(ncols=2, width=4.6, height=3.8)
    ax = axes[0, 0]
    for est, truth in N.ESTIMATES.items():
        ax.scatter(
            [r[truth] for r in results["signal"]],
            [r[est] for r in results["signal"]],
            s=12,
            color=N.COLORS[est],
            label=est.split(":")[0],
        )
    lims = [0.45, 1.0]
    ax.plot(lims, lims, "k--", lw=0.8)
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_xlabel("true accuracy (10,000 fresh samples)")
    ax.set_ylabel("reported accuracy")
    ax.set_title("signal: each dot is one development set of 100", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[0, 1]
    for j, setting in enumerate(N.SETTINGS):
        for i, (est, truth) in enumerate(N.ESTIMATES.items()):
            d = np.array([r[est] - r[truth] for r in results[setting]])
            m, lo, hi = mean_ci(d)
            x = i + 4 * j
            jitter = np.random.default_rng(x).uniform(-0.15, 0.15, len(d))
            ax.scatter(x + jitter, d, s=8, color=N.COLORS[est], alpha=0.5)
            ax.errorbar(x, m, yerr=[[m - lo], [hi - m]], fmt="o", color="k", capsize=4)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks([1, 5], ["signal (truth measured)", "null (truth = 0.5)"])
    ax.set_ylabel("reported - true accuracy")
    ax.set_title("optimism: single split, non-nested, nested (mean, 95% CI)", fontsize=9)
    fig.tight_layout()
    return fig


def replicability(rows: list[dict]):
    """Difference to Y with corrected 95% CIs: one panel per dataset, one row per variant of X."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = new_figure(ncols=len(names), width=3.0, height=3.0)
    for ax, name in zip(axes[0], names, strict=True):
        part = [r for r in rows if r["dataset"] == name and not r["method"].startswith("Y")]
        for i, r in enumerate(part):
            color = {"X wins": "tab:green", "Y wins": "tab:red"}.get(r["verdict"], "tab:gray")
            ax.errorbar(
                r["minus_Y"],
                i,
                xerr=[[r["minus_Y"] - r["ci95_low"]], [r["ci95_high"] - r["minus_Y"]]],
                fmt="o",
                color=color,
                capsize=3,
            )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(part)), [r["method"] for r in part] if ax is axes[0, 0] else [])
        ax.invert_yaxis()
        ax.set_xlabel("accuracy - Y (95% CI)", fontsize=8)
        ax.set_title(name, fontsize=10)
    fig.suptitle(
        "'X (scaled 5-NN) beats Y (logistic regression)'? green: X wins, red: Y wins, gray: no difference shown",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
