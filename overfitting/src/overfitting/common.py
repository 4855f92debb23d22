"""What every experiment in this topic shares: the command line, the tables, the figures, the receipt.

Each experiment is one command: `--seed` fixes every random choice, `--full` switches from the quick
default to the slide-quality size, `--out` names the folder that receives `table.csv`, `table.md`,
`figure.png` and `run.json`. Files are written to a temporary name and renamed, so a crash or a bad
argument never leaves half an output behind.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from overfitting.receipt import data_sha256, weights_sha256, write_run_json

OUTPUTS = Path("outputs")


class UsageError(Exception):
    """Bad input from the user: reported as one `error: ...` line and exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one `error: ...` line instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# The command each experiment is, as run.json records it (also when of-all runs it).
SCRIPTS = {
    "leakage": "of-leakage",
    "reusable_holdout": "of-holdout",
    "ladder": "of-ladder",
    "seed_lottery": "of-seeds",
    "nested_cv": "of-tuning",
    "replicability": "of-replicate",
}


def make_parser(description: str, default_out: str) -> OneLineParser:
    """The options every experiment has: --seed, --full, --out."""
    parser = OneLineParser(description=description)
    parser.set_defaults(script=SCRIPTS.get(default_out))
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice")
    parser.add_argument(
        "--full", action="store_true", help="slide-quality size (slower) instead of the quick one"
    )
    parser.add_argument(
        "--out", type=Path, default=OUTPUTS / default_out, help="folder for table, figure, run.json"
    )
    return parser


def check_args(args: argparse.Namespace) -> None:
    """Reject impossible values before any work is done."""
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")
    # The folder is created only when results are written (so bad input leaves nothing behind):
    # check now that it can be, rather than fail with a traceback after minutes of work.
    parent = args.out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {args.out} cannot be created: {parent} is not a writable folder")
    for name, value in vars(args).items():
        if name in {"seed", "full", "out"}:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def cli(run: Callable[[list[str] | None], Any]) -> Callable[[list[str] | None], int]:
    """Wrap an experiment's `run(argv)` so bad input ends as one stderr line and exit code 2."""

    def main(argv: list[str] | None = None) -> int:
        from threadpoolctl import threadpool_limits

        try:
            # One BLAS/OpenMP thread: these problems are small, and on a shared machine extra
            # threads mostly spin (measured: 10x slower under load). Results do not depend on it.
            with threadpool_limits(limits=1):
                run(argv)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0

    main.__doc__ = run.__doc__
    return main


def kernel_fingerprint() -> dict[str, str]:
    """What decides the last bits of these experiments besides the seed and the lock: the BLAS
    kernels OpenBLAS chose for this CPU (threadpoolctl's `architecture`, e.g. `Haswell` on an AVX2
    CPU, `SkylakeX` with AVX512) and the number of BLAS threads. Another kernel sums in another
    order, and now and then a prediction near the decision boundary flips."""
    import sklearn.linear_model  # noqa: F401 - loads numpy's and scipy's OpenBLAS
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    return {
        "openblas_kernel": ",".join(sorted({str(i.get("architecture")) for i in blas})),
        "blas_threads": ",".join(sorted({str(i["num_threads"]) for i in blas})),
    }


# ---------------------------------------------------------------------------------------------
# Writing results: atomically, so an interrupted run never leaves a half-written file.


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fmt(value: Any) -> str:
    """Numbers with 3 decimals, everything else as is."""
    if isinstance(value, float | np.floating):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table of the rows (all rows share the first row's keys)."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(out: Path, rows: Sequence[dict[str, Any]], name: str = "table") -> str:
    """Write `<name>.csv` and `<name>.md`; return the Markdown so the caller can print it."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: fmt(v) for k, v in r.items()} for r in rows)
    write_text_atomic(out / f"{name}.csv", buffer.getvalue())
    md = markdown_table(rows)
    write_text_atomic(out / f"{name}.md", md)
    return md


def write_results_npz(path: Path, results: dict[str, np.ndarray]) -> None:
    """The raw per-fit numbers `weights_sha256` hashes, so a receipt's hash can be re-checked and
    a later run compared number by number (`np.load(path)`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in results.items()})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure atomically (small PNG, fit for a slide)."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.0, height: float = 4.0) -> Any:
    """A figure on the non-interactive backend (works on a headless login node)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)


def finish(
    out: Path,
    *,
    args: argparse.Namespace,
    config: dict[str, Any],
    metrics: dict[str, float],
    results: dict[str, np.ndarray],
    data: Sequence[np.ndarray] | None,
    started: float,
    argv: list[str] | None,
) -> Path:
    """Write run.json. An experiment of hundreds of fits has no single set of weights: its
    `weights_sha256` hashes the raw per-fit results instead, so equal hashes mean bitwise-equal
    numbers and two runs can still be compared with one string; `results.npz` holds those numbers
    (the receipt's `weights_file`), so `compare` can say how far apart two runs are. Data
    generated on the fly from the seed have no file to hash (`data=None`): the seed and config
    name them."""
    script = getattr(args, "script", None) or Path(sys.argv[0]).name
    command = [script, *(sys.argv[1:] if argv is None else argv)]
    write_results_npz(out / "results.npz", results)
    path = write_run_json(
        out,
        seed=args.seed,
        config={"full": args.full, **config},
        metrics={k: float(v) for k, v in metrics.items()},
        weights_sha256=weights_sha256(results),
        data_sha256=data_sha256(*data) if data is not None else None,
        started=started,
        command=command,
        weights_file=out / "results.npz",
        hash_covers="results.npz: every fit's raw results (scores, choices), not model weights",
    )
    # The benchmark: each command prints its own wall time (the receipt's `seconds`), measured
    # on the machine it ran on; nothing asserts it, because another machine or load changes it.
    print(f"took {json.loads(path.read_text())['seconds']:.1f} s (run.json: seconds)")
    return path


def now() -> float:
    """Start stamp for run.json's `seconds`."""
    return time.time()


# ---------------------------------------------------------------------------------------------
# Small statistics used by several experiments.


def mean_ci(
    values: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval (assumes independent values)."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return m, m - half, m + half


def corrected_ci(
    diff: Sequence[float] | np.ndarray, test_train_ratio: float, level: float = 0.95
) -> tuple[float, float, float]:
    """Nadeau & Bengio (2003) corrected resampled t interval for the mean of J paired differences
    measured on J train/test resamplings of ONE dataset. The resamplings share data, so the J
    differences are positively correlated and the naive variance / J is far too small; the
    correction replaces 1/J by (1/J + n_test/n_train)."""
    v = np.asarray(diff, dtype=float)
    j, m = len(v), float(v.mean())
    half = stats.t.ppf(0.5 + level / 2, j - 1) * math.sqrt(
        v.var(ddof=1) * (1 / j + test_train_ratio)
    )
    return m, m - half, m + half


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator per (seed, repetition, ...): repetitions never share a stream,
    and rerunning one repetition alone gives the same numbers as in the full run."""
    return np.random.default_rng([seed, *keys])
