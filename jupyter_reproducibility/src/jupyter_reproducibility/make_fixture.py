"""Rebuild the evidence: run a trap notebook's cells in the order a person naturally does.

The notebooks under `fixtures/` are not hand-edited JSON. This script opens a clean teaching
copy from `notebooks/`, starts a real kernel, executes the cells in a scripted session order
(e.g. re-running experiment 1 after experiment 2) and saves the notebook with the outputs and
execution counts the kernel produced, exactly as Jupyter would have saved it. One session per
trap:

  out-of-order  notebooks/trap.ipynb: experiment 1 re-run after experiment 2 changed `C`
  stale         notebooks/trap_stale.ipynb: the shared `test_size` updated, experiment 2 forgotten
  redefined     notebooks/trap_redefined.ipynb: experiment 1 re-run after `features` was redefined
  long          notebooks/trap_long.ipynb: the same, the redefinition among unrelated cells

    uv run jr-make-fixture                      # rewrites fixtures/trap_out_of_order.ipynb
    uv run jr-make-fixture --trap stale         # rewrites fixtures/trap_stale_dependent.ipynb
    uv run jr-make-fixture --out outputs/x.ipynb
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

from jupyter_reproducibility.plumbing import (
    BadInput,
    OneLineParser,
    check_out,
    is_notebook,
    read_notebook,
    run_at_edge,
)
from jupyter_reproducibility.receipt import TOPIC_ROOT, atomic_write

NOTEBOOKS, FIXTURES = TOPIC_ROOT / "notebooks", TOPIC_ROOT / "fixtures"
CLEAN_NOTEBOOK = NOTEBOOKS / "trap.ipynb"
FIXTURE = FIXTURES / "trap_out_of_order.ipynb"

# (cell number, counting every cell from 1 as nbcheck reports them; what the person is doing)
NATURAL_SESSION: list[tuple[int, str]] = [
    (2, "load the data"),
    (4, "experiment 1: set C = 0.001"),
    (5, "experiment 1: train and print"),
    (7, "experiment 2: set C = 1.0"),
    (8, "experiment 2: train and print"),
    (5, "scroll up, re-run experiment 1 'just in case' (C is now 1.0!)"),
    (10, "print the table for the paper"),
]


COALESCE = CoalesceStreamsPreprocessor()


@dataclass(frozen=True)
class Trap:
    clean: Path  # the teaching copy, committed without outputs
    fixture: Path  # the evidence, committed with the outputs the session left
    session: list[tuple[int, str]]


def _run_all_then(code_cells: list[int], rerun: int, table: int) -> list[tuple[int, str]]:
    """Run every code cell top to bottom, then re-run experiment 1 and print the table."""
    return [
        *((n, "run top to bottom") for n in code_cells),
        (rerun, "scroll up, re-run experiment 1 'just in case' (`features` is redefined below!)"),
        (table, "print the table for the paper"),
    ]


TRAPS: dict[str, Trap] = {
    "out-of-order": Trap(CLEAN_NOTEBOOK, FIXTURE, NATURAL_SESSION),
    "stale": Trap(
        NOTEBOOKS / "trap_stale.ipynb",
        FIXTURES / "trap_stale_dependent.ipynb",
        [
            (2, "import"),
            (3, "the shared test_size = 0.3"),
            (4, "split"),
            (5, "experiment 1"),
            (6, "experiment 2"),
            (8, "the reviewer's test_size = 0.5"),
            (4, "scroll up, split again"),
            (5, "re-run experiment 1 (experiment 2 forgotten)"),
            (9, "print the table for the paper"),
        ],
    ),
    "redefined": Trap(
        NOTEBOOKS / "trap_redefined.ipynb",
        FIXTURES / "trap_redefined.ipynb",
        _run_all_then([2, 4, 5, 7, 8, 10], rerun=5, table=10),
    ),
    "long": Trap(
        NOTEBOOKS / "trap_long.ipynb",
        FIXTURES / "trap_long.ipynb",
        _run_all_then(
            [2, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 27],
            rerun=5,
            table=27,
        ),
    ),
}


def run_session(
    clean: Path,
    session: list[tuple[int, str]],
    *,
    kernel_name: str = "python3",
    timeout: int = 120,
    verbose: bool = True,
) -> nbformat.NotebookNode:
    """Execute `clean`'s cells in `session` order in one kernel; return the notebook as left."""
    nb = read_notebook(clean)
    # Check the whole session against the notebook before a kernel starts: fail fast and clearly.
    for number, _ in session:
        if not 1 <= number <= len(nb.cells):
            raise BadInput(f"{clean} has {len(nb.cells)} cells, the session runs cell {number}")
        if (kind := nb.cells[number - 1].cell_type) != "code":
            raise BadInput(f"cell {number} of {clean} is a {kind} cell, not code")
    # record_timing=False keeps wall-clock stamps out of the file, so a rebuild diffs cleanly.
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(clean.parent)}},
    )
    # The kernel's own log (e.g. its TCP notice) is not notebook output: keep it off the console.
    with client.setup_kernel(stderr=subprocess.DEVNULL):
        for number, why in session:
            cell = nb.cells[number - 1]
            # execute_cell replaces the outputs and takes the kernel's execution count, as the UI does.
            client.execute_cell(cell, number - 1)
            # A kernel may send one `print` as several stream messages (how many depends on
            # timing); joined as Jupyter's front ends save them, a rebuild gives the same file.
            COALESCE.preprocess_cell(cell, {}, number - 1)
            if verbose:
                print(f"  ran cell {number:>2} -> [{cell.execution_count}]  {why}")
    return nb


def rebuild(trap: Trap, notebook: Path, out: Path) -> int:
    check_out(out, folder=False, keeps=is_notebook)  # never overwrite a file that is not a notebook
    read_notebook(notebook)  # JSON that is not a notebook: one line before a kernel starts
    print(f"running {notebook} in the order of a natural session:")
    try:
        nb = run_session(notebook, trap.session)
    except CellExecutionError as exc:
        raise BadInput(f"a cell failed in the kernel: {exc.ename}: {exc.evalue}") from None
    atomic_write(out, nbformat.writes(nb) + "\n")
    print(f"saved {out} (outputs and execution counts as the kernel left them)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="jr-make-fixture", description=__doc__.splitlines()[0])
    parser.add_argument("--trap", choices=TRAPS, default="out-of-order", help="which session")
    parser.add_argument("--notebook", type=Path, help="clean notebook (default: the trap's)")
    parser.add_argument("--out", type=Path, help="where to save the result (default: fixtures/)")
    args = parser.parse_args(argv)
    trap = TRAPS[args.trap]
    return run_at_edge(lambda: rebuild(trap, args.notebook or trap.clean, args.out or trap.fixture))


if __name__ == "__main__":
    raise SystemExit(main())
