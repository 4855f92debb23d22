"""The leaderboard attack, and the Ladder that stops it (Blum & Hardt, "The Ladder", ICML 2015).

A public leaderboard is a holdout set that everyone may query. Here the test labels are coin
flips: no model can beat 50%. An attacker submits random predictions, keeps the ones the
leaderboard scores above chance, and submits their majority vote: its public score climbs with
every batch of submissions, while on the private half of the test set (scored once, at the end)
it stays at chance. The Ladder releases a new score only when a submission beats the best one so
far by a step eta, rounded to a multiple of eta: the attacker learns almost nothing, and the
public score stays near the truth.

Run: `uv run of-ladder` (5 repetitions, a few seconds) or `uv run of-ladder --full` (20).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from overfitting import figures
from overfitting.common import finish, now, rng_for, save_figure, write_table
from overfitting.plumbing import BadInput, check_args, finite_float, make_parser, run_at_edge

# %%
# Two leaderboards
# ----------------
# Both score a submission by its 0-1 loss on the public labels. The open one (Kaggle-style)
# releases that loss exactly. The Ladder (Blum & Hardt's Algorithm 1) keeps the best released
# loss R and releases a new one only when a submission's loss is below R - eta.


class OpenLeaderboard:
    """Releases every submission's exact public loss."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def loss(self, predictions: np.ndarray) -> float:
        return float(np.mean(predictions != self.labels))

    def submit(self, predictions: np.ndarray) -> float:
        return self.loss(predictions)


class Ladder(OpenLeaderboard):
    """R_0 = inf; R_t = round(loss_t / eta) * eta if loss_t < R_{t-1} - eta, else R_{t-1}."""

    def __init__(self, labels: np.ndarray, step: float) -> None:
        super().__init__(labels)
        self.step, self.best = step, math.inf

    def submit(self, predictions: np.ndarray) -> float:
        loss = self.loss(predictions)
        if loss < self.best - self.step:
            self.best = round(loss / self.step) * self.step
        return self.best


# %%
# The attacker: random submissions, keep the lucky ones, vote
# -----------------------------------------------------------
# Each random submission that scores better than chance agrees with the public labels a little
# more often than not; the majority vote of many such submissions adds those small edges up
# (Blum & Hardt's "boosting attack": a public advantage that grows like sqrt(k / n) after k
# submissions).
# The vote learns nothing about the private labels, so there it stays at chance. Against the
# Ladder, the only signal is "a new best was released", so the attacker keeps those.


@dataclass(frozen=True)
class Setting:
    n: int  # public labels (the private half has as many)
    submissions: int  # random submissions
    step: float  # the Ladder's eta
    reps: int
    every: int = 10  # the majority vote is submitted after every `every` random submissions


QUICK = Setting(n=5_000, submissions=1_000, step=0.01, reps=5)
FULL = Setting(n=5_000, submissions=1_000, step=0.01, reps=20)
MAX_N = 1_000_000  # public labels at most: memory and time grow with n x submissions


def attack(board: OpenLeaderboard, n: int, s: Setting, rng: np.random.Generator) -> np.ndarray:
    """Run the attack against one leaderboard. Rows: (submissions so far, released public score
    of the majority vote, its true public accuracy, its private accuracy)."""
    private = rng.integers(0, 2, n)  # private labels: never seen by anyone until the end
    vote_sum = np.zeros(2 * n)  # +1 / -1 per kept submission, over public then private items
    # The first submission is the usual baseline: predict 0 everywhere (about 0.5 loss).
    best_released, curve = board.submit(np.zeros(n, dtype=np.int64)), []
    for t in range(1, s.submissions + 1):
        guess = rng.integers(0, 2, 2 * n)  # predictions for every test item, public and private
        released = board.submit(guess[:n])
        # Open board: keep what beats a coin. Ladder: keep what it announced as a new best.
        keep = released < best_released if isinstance(board, Ladder) else released < 0.5
        best_released = min(best_released, released)
        if keep:
            vote_sum += 2 * guess - 1
        if t % s.every == 0:
            vote = (vote_sum > 0).astype(np.int64)
            released_vote = board.submit(vote[:n])
            best_released = min(best_released, released_vote)
            curve.append(
                (t, 1 - released_vote, 1 - board.loss(vote[:n]), np.mean(vote[n:] == private))
            )
    return np.array(curve, dtype=float)


def one_rep(seed: int, rep: int, s: Setting) -> dict[str, np.ndarray]:
    """Both leaderboards on the same public labels and the same random submissions."""
    public = rng_for(seed, rep).integers(0, 2, s.n)
    return {
        "open": attack(OpenLeaderboard(public), s.n, s, rng_for(seed, rep, 1)),
        "ladder": attack(Ladder(public, s.step), s.n, s, rng_for(seed, rep, 1)),
    }


# %%
# The table and the figure: public score vs private score, over submissions
# ------------------------------------------------------------------------

COLUMNS = {"released public score": 1, "true public accuracy": 2, "private accuracy": 3}


def summary_rows(runs: list[dict[str, np.ndarray]], s: Setting) -> list[dict]:
    """Mean (and min-max over repetitions) at a few points along the attack."""
    rows = []
    marks = [t for t in (10, 30, 100, 300, 1000, 3000, 10_000) if t <= s.submissions]
    for board in ("open", "ladder"):
        stacked = np.stack([r[board] for r in runs])  # reps x checkpoints x columns
        for t in marks:
            i = t // s.every - 1
            row = {"leaderboard": board, "submissions": t}
            for name, j in COLUMNS.items():
                row[name] = float(stacked[:, i, j].mean())
            row["max released"] = float(stacked[:, i, 1].max())
            rows.append(row)
    return rows


# %%
# The command
# -----------


def run(argv: list[str] | None = None) -> list[dict]:
    """Attack both leaderboards; print and write the table, the figure and run.json."""
    parser = make_parser(__doc__.splitlines()[0], "ladder")
    parser.add_argument("--n", type=int, help="public test labels (default 5,000)")
    parser.add_argument("--submissions", type=int, help="random submissions (default 1,000)")
    parser.add_argument("--step", type=finite_float, help="the Ladder's step eta (default 0.01)")
    parser.add_argument("--reps", type=int, help="repetitions (quick 5, full 20)")
    args = parser.parse_args(argv)
    check_args(args)
    if args.step is not None and not (0 < args.step < 0.5):
        raise BadInput(f"--step must be between 0 and 0.5, got {args.step}")
    base = FULL if args.full else QUICK
    s = Setting(
        n=args.n or base.n,
        submissions=args.submissions or base.submissions,
        step=args.step or base.step,
        reps=args.reps or base.reps,
    )
    if s.n > MAX_N:  # each submission draws 2n predictions
        raise BadInput(f"--n must be at most {MAX_N:,}, got {s.n:,}")
    if s.submissions < s.every:
        raise BadInput(f"--submissions must be >= {s.every}, got {s.submissions}")
    started = now()
    runs = [one_rep(args.seed, r, s) for r in tqdm(range(s.reps), desc="repetitions", disable=None)]
    rows = summary_rows(runs, s)
    print(write_table(args.out, rows))
    save_figure(figures.ladder(runs, s), args.out / "figure.png")
    final = {b: np.stack([r[b][-1] for r in runs]) for b in ("open", "ladder")}
    metrics = {
        f"{b}_{name.replace(' ', '_')}": float(final[b][:, j].mean())
        for b in final
        for name, j in COLUMNS.items()
    }
    metrics["open_climb_min"] = float(final["open"][:, 1].min() - 0.5)
    metrics["ladder_released_max"] = float(final["ladder"][:, 1].max())
    print(" ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    finish(
        args.out,
        args=args,
        config=s.__dict__,
        metrics=metrics,
        results={f"{b}_{i}": r[b] for i, r in enumerate(runs) for b in r},
        data=None,
        started=started,
        argv=argv,
    )
    print(f"wrote {args.out}/table.md, table.csv, figure.png, run.json")
    return rows


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
