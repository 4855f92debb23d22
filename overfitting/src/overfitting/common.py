"""What every experiment in this topic shares: the tables, the figures, the receipt, the statistics.

Each experiment writes `table.csv`, `table.md`, `figure.png`, `results.npz` and `run.json` into
its `--out` folder (the options themselves are in `plumbing.py`). Files are written to a temporary
name and renamed, so a crash never leaves half an output behind.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from overfitting.receipt import atomic_write, data_sha256, weights_sha256, write_run_json


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
# Writing results: atomically (the receipt's `atomic_write`), so an interrupted run never leaves
# a half-written file.


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
    atomic_write(out / f"{name}.csv", buffer.getvalue())
    md = markdown_table(rows)
    atomic_write(out / f"{name}.md", md)
    return md


def write_results_npz(path: Path, results: dict[str, np.ndarray]) -> None:
    """The raw per-fit numbers `weights_sha256` hashes, so a receipt's hash can be re-checked and
    a later run compared number by number (`np.load(path)`)."""
    buffer = io.BytesIO()  # np.savez on a path would append ".npz" to the temporary name
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in results.items()})
    atomic_write(path, buffer.getvalue())


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure atomically (small PNG, fit for a slide)."""
    import matplotlib.pyplot as plt

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.0, height: float = 4.0) -> Any:
    """A figure on the non-interactive backend (works on a headless login node); in a Jupyter
    kernel, on the kernel's inline backend, so a notebook shows it."""
    import matplotlib

    if "ipykernel" not in sys.modules:
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
