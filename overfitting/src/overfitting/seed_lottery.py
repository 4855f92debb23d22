"""Seed lottery: the same pipeline under many seeds, and what one lucky seed can "prove".

A small neural network (scikit-learn's MLPClassifier) on the digits is trained with the data split
seed and the weight-initialisation seed varied SEPARATELY. Every run is perfectly reproducible, yet
the test accuracy is a distribution: we report its mean, std, min-max, how much each seed source
contributes, and how far "the best of N seeds" sits above the mean. Then two architectures are
compared: one cherry-picked seed crowns one of them; a paired comparison over many seeds, with a
confidence interval, tells the real story.

Run: `uv run of-seeds` (quick) or `uv run of-seeds --full` (slide quality).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from overfitting.common import (
    check_args,
    cli,
    finish,
    make_parser,
    mean_ci,
    new_figure,
    now,
    save_figure,
    write_table,
)

# Two architectures with the same training budget; the claim under test: "B (deeper) beats A".
METHODS = {"A: MLP 64": (64,), "B: MLP 32-32": (32, 32)}
EPOCHS = 60  # a fixed budget: the networks need not converge, they must be trained alike


@dataclass(frozen=True)
class Sizes:
    split_seeds: int
    init_seeds: int
    paired_seeds: int


QUICK = Sizes(split_seeds=6, init_seeds=6, paired_seeds=20)
FULL = Sizes(split_seeds=20, init_seeds=20, paired_seeds=100)


def train_and_score(hidden: tuple[int, ...], split_seed: int, init_seed: int) -> float:
    """Test accuracy of one run. The split seed decides which digits are test digits; the init
    seed decides the starting weights and the mini-batch order. Nothing else is random."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=split_seed
    )
    net = MLPClassifier(hidden_layer_sizes=hidden, max_iter=EPOCHS, random_state=init_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make_pipeline(StandardScaler(), net).fit(X_tr, y_tr)
    return float(model.score(X_te, y_te))


def seed_grid(seed: int, sizes: Sizes) -> np.ndarray:
    """Accuracy of method A for every (split seed, init seed) pair: rows = splits, cols = inits.
    `seed` offsets all seeds, so `--seed 1` is a fresh lottery, not a reshuffle of the same one."""
    hidden = METHODS["A: MLP 64"]
    base = 1000 * seed
    grid = np.empty((sizes.split_seeds, sizes.init_seeds))
    cells = [(i, j) for i in range(sizes.split_seeds) for j in range(sizes.init_seeds)]
    for i, j in tqdm(cells, desc="seed grid", disable=None):
        grid[i, j] = train_and_score(hidden, base + i, base + 500 + j)
    return grid


def best_of_n_overstatement(scores: np.ndarray, ns: list[int]) -> dict[int, float]:
    """Expected (max of N seeds) - (mean over seeds), from the measured scores, exactly:
    E[max of N drawn without replacement] uses the order statistics of the sample."""
    s = np.sort(scores)
    m = len(s)
    out = {}
    for n in ns:
        # P(the i-th smallest is the max of a random N-subset) = C(i-1, N-1) / C(m, N)
        i = np.arange(1, m + 1)
        weights = np.array([_comb(k - 1, n - 1) for k in i]) / _comb(m, n)
        out[n] = max(0.0, float(weights @ s - s.mean()))  # >= 0; clip rounding noise
    return out


def _comb(a: int, b: int) -> float:
    from math import comb

    return float(comb(a, b)) if 0 <= b <= a else 0.0


def paired_comparison(seed: int, sizes: Sizes) -> np.ndarray:
    """Both methods on the same (split, init) seeds: column 0 = A, column 1 = B."""
    base = 1000 * seed + 100_000  # other seeds than the grid's
    scores = np.empty((sizes.paired_seeds, 2))
    for s in tqdm(range(sizes.paired_seeds), desc="paired seeds", disable=None):
        for j, hidden in enumerate(METHODS.values()):
            scores[s, j] = train_and_score(hidden, base + s, base + s)
    return scores


def lottery_rows(grid: np.ndarray, ns: list[int]) -> list[dict]:
    """The distribution of one pipeline's score over seeds, and the best-of-N optimism."""
    flat = grid.ravel()
    over = best_of_n_overstatement(flat, ns)
    rows = [
        {"quantity": "runs (split x init seeds)", "value": float(flat.size)},
        {"quantity": "mean test accuracy", "value": float(flat.mean())},
        {"quantity": "std over all runs", "value": float(flat.std(ddof=1))},
        {"quantity": "min", "value": float(flat.min())},
        {"quantity": "max (the best seed)", "value": float(flat.max())},
        # Spread due to one source with the other held fixed, averaged over the other.
        {
            "quantity": "std over init seeds (split fixed)",
            "value": float(grid.std(1, ddof=1).mean()),
        },
        {
            "quantity": "std over split seeds (init fixed)",
            "value": float(grid.std(0, ddof=1).mean()),
        },
    ]
    rows += [{"quantity": f"best of {n} seeds - mean", "value": v} for n, v in over.items()]
    return rows


def comparison_rows(scores: np.ndarray) -> list[dict]:
    """Single-seed verdicts vs the paired verdict with a 95% CI."""
    diff = scores[:, 1] - scores[:, 0]  # B - A, paired by seed
    m, lo, hi = mean_ci(diff)
    best = int(np.argmax(diff))
    return [
        {
            "comparison": "cherry-picked seed (largest B - A)",
            "B_minus_A": float(diff[best]),
            "ci95_low": float("nan"),
            "ci95_high": float("nan"),
        },
        {
            "comparison": "first seed only",
            "B_minus_A": float(diff[0]),
            "ci95_low": float("nan"),
            "ci95_high": float("nan"),
        },
        {
            "comparison": f"fraction of seeds where B wins (of {len(diff)})",
            "B_minus_A": float(np.mean(diff > 0)),
            "ci95_low": float("nan"),
            "ci95_high": float("nan"),
        },
        {
            "comparison": f"paired mean over {len(diff)} seeds",
            "B_minus_A": m,
            "ci95_low": lo,
            "ci95_high": hi,
        },
        {
            "comparison": "mean accuracy A",
            "B_minus_A": float(scores[:, 0].mean()),
            "ci95_low": float("nan"),
            "ci95_high": float("nan"),
        },
        {
            "comparison": "mean accuracy B",
            "B_minus_A": float(scores[:, 1].mean()),
            "ci95_low": float("nan"),
            "ci95_high": float("nan"),
        },
    ]


def plot(grid: np.ndarray, scores: np.ndarray, ns: list[int]):
    """Left: the lottery (histogram, mean, best seed). Middle: best-of-N optimism.
    Right: per-seed B - A differences with the paired mean and its CI."""
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
    over = best_of_n_overstatement(flat, ns)
    ax.plot(list(over), list(over.values()), "o-", color="tab:red")
    ax.set_xscale("log")
    ax.set_xlabel("N seeds tried, best one reported")
    ax.set_ylabel("best - mean accuracy")
    ax.set_title("optimism of reporting the best seed", fontsize=10)

    ax = axes[0, 2]
    diff = scores[:, 1] - scores[:, 0]
    m, lo, hi = mean_ci(diff)
    ax.scatter(range(len(diff)), diff, s=10, c=np.where(diff > 0, "tab:orange", "tab:blue"))
    ax.axhline(0, color="k", lw=0.8)
    ax.axhspan(
        lo, hi, color="tab:green", alpha=0.3, label=f"paired mean, 95% CI [{lo:+.3f}, {hi:+.3f}]"
    )
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
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def run(argv: list[str] | None = None) -> dict:
    """Run the lottery and the comparison; print and write tables, figure, run.json."""
    parser = make_parser(__doc__.splitlines()[0], "seed_lottery")
    args = parser.parse_args(argv)
    check_args(args)
    sizes = FULL if args.full else QUICK
    started = now()
    grid = seed_grid(args.seed, sizes)
    scores = paired_comparison(args.seed, sizes)
    ns = [n for n in (1, 2, 5, 10, 20, 50, 100, 200, 400) if n <= grid.size]
    lottery = lottery_rows(grid, ns)
    comparison = comparison_rows(scores)
    print(write_table(args.out, lottery, "lottery"))
    print(write_table(args.out, comparison, "comparison"))
    # table.md/csv hold both, so every experiment has the same file names.
    both = [
        {
            "table": "lottery",
            "quantity": r["quantity"],
            "value": r["value"],
            "ci95_low": float("nan"),
            "ci95_high": float("nan"),
        }
        for r in lottery
    ]
    both += [
        {
            "table": "comparison",
            "quantity": r["comparison"],
            "value": r["B_minus_A"],
            "ci95_low": r["ci95_low"],
            "ci95_high": r["ci95_high"],
        }
        for r in comparison
    ]
    write_table(args.out, both)
    save_figure(plot(grid, scores, ns), args.out / "figure.png")
    flat = grid.ravel()
    over = best_of_n_overstatement(flat, ns)
    diff = scores[:, 1] - scores[:, 0]
    m, lo, hi = mean_ci(diff)
    metrics = {
        "mean": flat.mean(),
        "std": flat.std(ddof=1),
        "best": flat.max(),
        "best_minus_mean": flat.max() - flat.mean(),
        f"best_of_{ns[-1]}_minus_mean": over[ns[-1]],
        "std_init": grid.std(1, ddof=1).mean(),
        "std_split": grid.std(0, ddof=1).mean(),
        "paired_B_minus_A": m,
        "paired_ci95_low": lo,
        "paired_ci95_high": hi,
        "cherry_picked_B_minus_A": diff.max(),
    }
    finish(
        args.out,
        args=args,
        config={
            "sizes": sizes.__dict__,
            "methods": {k: list(v) for k, v in METHODS.items()},
            "epochs": EPOCHS,
        },
        metrics=metrics,
        results={"grid": grid, "paired": scores},
        data=[load_digits().data, load_digits().target],
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, lottery.md, comparison.md, figure.png, run.json")
    return {"grid": grid, "scores": scores, "metrics": metrics}


main = cli(run)

if __name__ == "__main__":
    raise SystemExit(main())
