"""Seed lottery: the same pipeline under many seeds, and what one lucky seed can "prove".

A small neural network (scikit-learn's MLPClassifier) on the digits is trained with the data split
seed and the weight-initialisation seed varied SEPARATELY. Every run is perfectly reproducible, yet
the test accuracy is a distribution: we report its mean, std, min-max, how much each seed source
contributes (the split seed's share is about the binomial standard error of a test set of 899
digits), and how far "the best of N seeds" sits above the mean. Then two architectures are
compared over 100 paired split seeds: one cherry-picked seed crowns one of them; the naive t
interval over the seeds seems to settle it; the Nadeau-Bengio corrected interval, which accounts
for 100 splits of the SAME 1,797 digits sharing their data, says what can honestly be claimed.

Run: `uv run of-seeds` (quick) or `uv run of-seeds --full` (slide quality).
"""

from __future__ import annotations

import math
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

from overfitting import figures
from overfitting.common import corrected_ci, finish, mean_ci, now, save_figure, write_table
from overfitting.plumbing import BadInput, check_args, make_parser, run_at_edge

# Two architectures with the same training budget; the claim under test: "B (deeper) beats A".
METHODS = {"A: MLP 64": (64,), "B: MLP 32-32": (32, 32)}
EPOCHS = 60  # a fixed budget: the networks need not converge, they must be trained alike
TEST_SIZE = 0.5


@dataclass(frozen=True)
class Sizes:
    split_seeds: int
    init_seeds: int
    paired_seeds: int


QUICK = Sizes(split_seeds=6, init_seeds=6, paired_seeds=20)
FULL = Sizes(split_seeds=20, init_seeds=20, paired_seeds=100)

# %%
# One run: two seeds, nothing else random
# ---------------------------------------


def split_digits(split_seed: int) -> tuple[np.ndarray, ...]:
    """The split seed decides which digits are test digits (half of them, stratified)."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=split_seed)


def train_and_score(hidden: tuple[int, ...], split_seed: int, init_seed: int) -> float:
    """Test accuracy of one run. The init seed decides the starting weights and the mini-batch
    order."""
    X_tr, X_te, y_tr, y_te = split_digits(split_seed)
    net = MLPClassifier(hidden_layer_sizes=hidden, max_iter=EPOCHS, random_state=init_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make_pipeline(StandardScaler(), net).fit(X_tr, y_tr)
    return float(model.score(X_te, y_te))


def split_sizes() -> tuple[int, int]:
    """(n_train, n_test) of every split: 898 and 899 digits."""
    X_tr, X_te, _, _ = split_digits(0)
    return len(X_tr), len(X_te)


# %%
# The lottery: a grid of split seeds x init seeds
# -----------------------------------------------


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
        weights = np.array([math.comb(i - 1, n - 1) for i in range(1, m + 1)]) / math.comb(m, n)
        out[n] = max(0.0, float(weights @ s - s.mean()))  # >= 0; clip rounding noise
    return out


def binomial_se(accuracy: float, n_test: int) -> float:
    """Standard error of an accuracy measured on n_test independent test items."""
    return math.sqrt(accuracy * (1 - accuracy) / n_test)


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
        # A new split is a new test set: its accuracy wobbles by about the binomial SE.
        {
            "quantity": "binomial SE of one test set",
            "value": binomial_se(float(flat.mean()), split_sizes()[1]),
        },
    ]
    rows += [{"quantity": f"best of {n} seeds - mean", "value": v} for n, v in over.items()]
    return rows


# %%
# "B beats A"? One seed, a naive interval, an honest interval
# -----------------------------------------------------------
# The 100 paired runs are 100 random splits of the same 1,797 digits: any two share about half
# their training digits and half their test digits, so their B - A differences are correlated.
# The naive t interval (std / sqrt(J)) assumes 100 independent datasets; Nadeau & Bengio's
# correction inflates the variance to std^2 (1/J + n_test/n_train), here ~101 times the naive.


def paired_comparison(seed: int, sizes: Sizes) -> np.ndarray:
    """Both methods on the same (split, init) seeds: column 0 = A, column 1 = B."""
    base = 1000 * seed + 100_000  # other seeds than the grid's
    scores = np.empty((sizes.paired_seeds, 2))
    for s in tqdm(range(sizes.paired_seeds), desc="paired seeds", disable=None):
        for j, hidden in enumerate(METHODS.values()):
            scores[s, j] = train_and_score(hidden, base + s, base + s)
    return scores


def intervals(diff: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """The paired mean B - A with the naive and the corrected 95% interval."""
    n_train, n_test = split_sizes()
    return {"naive": mean_ci(diff), "corrected": corrected_ci(diff, n_test / n_train)}


def verdict(lo: float, hi: float) -> str:
    """What an honest reader may conclude from an interval of B - A."""
    return "B wins" if lo > 0 else "A wins" if hi < 0 else "no difference shown"


def comparison_rows(scores: np.ndarray) -> list[dict]:
    """Single-seed verdicts vs the paired verdicts with a naive and a corrected 95% CI."""
    diff = scores[:, 1] - scores[:, 0]  # B - A, paired by seed
    nan = float("nan")
    rows = [
        ("cherry-picked seed (largest B - A)", float(diff.max()), nan, nan, ""),
        ("first seed only", float(diff[0]), nan, nan, ""),
        (
            f"fraction of seeds where B wins (of {len(diff)})",
            float(np.mean(diff > 0)),
            nan,
            nan,
            "",
        ),
    ]
    for name, (m, lo, hi) in intervals(diff).items():
        rows.append((f"paired mean, {name} t interval", m, lo, hi, verdict(lo, hi)))
    rows += [
        ("mean accuracy A", float(scores[:, 0].mean()), nan, nan, ""),
        ("mean accuracy B", float(scores[:, 1].mean()), nan, nan, ""),
    ]
    keys = ("comparison", "B_minus_A", "ci95_low", "ci95_high", "verdict")
    return [dict(zip(keys, r, strict=True)) for r in rows]


# %%
# The command
# -----------


def both_tables(lottery: list[dict], comparison: list[dict]) -> list[dict]:
    """table.md/csv hold both tables, so every experiment has the same file names."""
    nan = float("nan")
    both = [
        {"table": "lottery", "quantity": r["quantity"], "value": r["value"]}
        | {"ci95_low": nan, "ci95_high": nan, "verdict": ""}
        for r in lottery
    ]
    return both + [
        {"table": "comparison", "quantity": r["comparison"], "value": r["B_minus_A"]}
        | {k: r[k] for k in ("ci95_low", "ci95_high", "verdict")}
        for r in comparison
    ]


def run(argv: list[str] | None = None) -> dict:
    """Run the lottery and the comparison; print and write tables, figure, run.json."""
    parser = make_parser(__doc__.splitlines()[0], "seed_lottery")
    parser.add_argument("--split-seeds", type=int, help="grid rows (quick 6, full 20)")
    parser.add_argument("--init-seeds", type=int, help="grid columns (quick 6, full 20)")
    parser.add_argument("--paired-seeds", type=int, help="seeds for B vs A (quick 20, full 100)")
    args = parser.parse_args(argv)
    check_args(args)
    base = FULL if args.full else QUICK
    sizes = Sizes(
        split_seeds=args.split_seeds or base.split_seeds,
        init_seeds=args.init_seeds or base.init_seeds,
        paired_seeds=args.paired_seeds or base.paired_seeds,
    )
    for name, value in sizes.__dict__.items():  # a spread or an interval needs two values
        if value < 2:
            raise BadInput(f"--{name.replace('_', '-')} must be >= 2, got {value}")
    started = now()
    grid = seed_grid(args.seed, sizes)
    scores = paired_comparison(args.seed, sizes)
    ns = [n for n in (1, 2, 5, 10, 20, 50, 100, 200, 400) if n <= grid.size]
    lottery = lottery_rows(grid, ns)
    comparison = comparison_rows(scores)
    print(write_table(args.out, lottery, "lottery"))
    print(write_table(args.out, comparison, "comparison"))
    write_table(args.out, both_tables(lottery, comparison))
    save_figure(figures.seed_lottery(grid, scores, ns), args.out / "figure.png")
    values = {r["quantity"]: r["value"] for r in lottery}
    diff = scores[:, 1] - scores[:, 0]
    ci = intervals(diff)
    metrics = {
        "mean": values["mean test accuracy"],
        "std": values["std over all runs"],
        "best": values["max (the best seed)"],
        "best_minus_mean": values["max (the best seed)"] - values["mean test accuracy"],
        f"best_of_{ns[-1]}_minus_mean": values[f"best of {ns[-1]} seeds - mean"],
        "std_init": values["std over init seeds (split fixed)"],
        "std_split": values["std over split seeds (init fixed)"],
        "binomial_se": values["binomial SE of one test set"],
        "paired_B_minus_A": ci["naive"][0],
        "paired_ci95_low": ci["naive"][1],
        "paired_ci95_high": ci["naive"][2],
        "corrected_ci95_low": ci["corrected"][1],
        "corrected_ci95_high": ci["corrected"][2],
        "cherry_picked_B_minus_A": diff.max(),
    }
    finish(
        args.out,
        args=args,
        config={
            "sizes": sizes.__dict__,
            "methods": {k: list(v) for k, v in METHODS.items()},
            "epochs": EPOCHS,
            "test_size": TEST_SIZE,
        },
        metrics=metrics,
        results={"grid": grid, "paired": scores},
        data=[load_digits().data, load_digits().target],
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, lottery.md, comparison.md, figure.png, run.json")
    return {"grid": grid, "scores": scores, "metrics": metrics}


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
