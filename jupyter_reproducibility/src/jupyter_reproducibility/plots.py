"""Draw the slides' figure from the evidence: the order the fixture's cells ran, and what it cost.

Left: each code cell of `fixtures/trap_out_of_order.ipynb` at its stored execution count, joined
in the order they ran; the jump back up is the re-run of experiment 1. Right: the accuracies the
stored notebook reports against a fresh top-to-bottom computation of the same experiments.

    uv run jr-figures                 # writes figures/execution_order.png
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from jupyter_reproducibility.experiments import C_EXPERIMENT_1, C_EXPERIMENT_2, expected_accuracy
from jupyter_reproducibility.make_fixture import FIXTURE
from jupyter_reproducibility.plumbing import (
    BadInput,
    OneLineParser,
    check_out,
    read_notebook,
    run_at_edge,
)
from jupyter_reproducibility.receipt import TOPIC_ROOT, atomic_write

FIGURES = TOPIC_ROOT / "figures"
_ACCURACY = re.compile(r"experiment (\d): test accuracy ([0-9.]+)")


def stored_accuracies(nb: nbformat.NotebookNode) -> dict[int, float]:
    """{experiment: accuracy} as printed in the stored outputs (what would go into the paper)."""
    found: dict[int, float] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for match in _ACCURACY.finditer(out.get("text", "")):
                found[int(match.group(1))] = float(match.group(2))
    return found


def plot_execution_order(nb: nbformat.NotebookNode, fresh: dict[int, float], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display needed: tests and servers draw to files
    import matplotlib.pyplot as plt

    runs = sorted(
        (cell.execution_count, number)
        for number, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code" and cell.get("execution_count") is not None
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    counts, numbers = zip(*runs, strict=True)
    left.plot(counts, numbers, "-o", color="tab:blue")
    for count, number in runs:
        left.annotate(f"[{count}]", (count, number), textcoords="offset points", xytext=(6, 4))
    # A count missing from the file was a run whose output was overwritten by a later run.
    for missing in sorted(set(range(1, max(counts) + 1)) - set(counts)):
        left.axvline(missing, color="grey", linestyle="--", linewidth=1)
        left.text(missing, max(numbers), f" run [{missing}]:\n no trace", color="grey", va="bottom")
    left.invert_yaxis()  # cell 1 at the top, as in the notebook
    left.set_xlabel("execution count (order the cells ran)")
    left.set_ylabel("cell number (top to bottom)")
    left.set_title("fixture: which cell ran when")

    stored = stored_accuracies(nb)
    experiments = sorted(fresh)
    width = 0.38
    xs = range(len(experiments))
    right.bar(
        [x - width / 2 for x in xs], [stored.get(e, 0) for e in experiments], width, label="stored"
    )
    right.bar(
        [x + width / 2 for x in xs], [fresh[e] for e in experiments], width, label="fresh run"
    )
    for bars in right.containers:
        right.bar_label(bars, fmt="%.3f", fontsize=8)
    right.set_xticks(list(xs), [f"experiment {e}" for e in experiments])
    right.set_ylim(0.5, 1.0)
    right.set_ylabel("test accuracy")
    right.set_title("stored output vs fresh run")
    right.legend(loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


def draw(fixture: Path, out: Path) -> int:
    check_out(out, folder=True)
    nb = read_notebook(fixture)
    if not any(c.cell_type == "code" and c.get("execution_count") for c in nb.cells):
        raise BadInput(f"{fixture} has no executed code cells: nothing to draw")
    fresh = {1: expected_accuracy(C_EXPERIMENT_1), 2: expected_accuracy(C_EXPERIMENT_2)}
    path = plot_execution_order(nb, fresh, out / "execution_order.png")
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="jr-figures", description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the PNG")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: draw(args.fixture, args.out))


if __name__ == "__main__":
    raise SystemExit(main())
