"""Rebuild the evidence: run the trap notebook's cells in the order a person naturally does.

`fixtures/trap_out_of_order.ipynb` is not hand-edited JSON. This script opens the clean teaching
copy (`notebooks/trap.ipynb`), starts a real kernel, executes the cells in the session order
below (re-running experiment 1 after experiment 2) and saves the notebook with the outputs and
execution counts the kernel produced, exactly as Jupyter would have saved it.

    uv run jr-make-fixture                      # rewrites fixtures/trap_out_of_order.ipynb
    uv run jr-make-fixture --out outputs/x.ipynb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from jupyter_reproducibility.receipt import TOPIC_ROOT

CLEAN_NOTEBOOK = TOPIC_ROOT / "notebooks" / "trap.ipynb"
FIXTURE = TOPIC_ROOT / "fixtures" / "trap_out_of_order.ipynb"

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


def run_session(
    clean: Path,
    session: list[tuple[int, str]],
    *,
    kernel_name: str = "python3",
    timeout: int = 120,
    verbose: bool = True,
) -> nbformat.NotebookNode:
    """Execute `clean`'s cells in `session` order in one kernel; return the notebook as left."""
    nb = nbformat.read(clean, as_version=4)
    # Check the whole session against the notebook before a kernel starts: fail fast and clearly.
    for number, _ in session:
        if not 1 <= number <= len(nb.cells):
            raise ValueError(f"{clean} has {len(nb.cells)} cells, the session runs cell {number}")
        if (kind := nb.cells[number - 1].cell_type) != "code":
            raise ValueError(f"cell {number} of {clean} is a {kind} cell, not code")
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
            merge_streams(cell)
            if verbose:
                print(f"  ran cell {number:>2} -> [{cell.execution_count}]  {why}")
    return nb


def merge_streams(cell: nbformat.NotebookNode) -> None:
    """Join consecutive stream outputs of the same name, as Jupyter's front ends save them.

    The kernel may send one `print` as several messages (how many depends on timing); the saved
    notebook should not, so that rebuilding the fixture gives the same file every time.
    """
    merged: list[nbformat.NotebookNode] = []
    for out in cell.outputs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and out.output_type == previous.output_type == "stream"
            and out.name == previous.name
        ):
            previous.text += out.text
        else:
            merged.append(out)
    cell.outputs = merged


def write_notebook_atomic(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write to a temporary file and rename, so a failed run never leaves half a notebook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=CLEAN_NOTEBOOK, help="clean notebook")
    parser.add_argument("--out", type=Path, default=FIXTURE, help="where to save the result")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"error: notebook not found: {args.notebook}", file=sys.stderr)
        return 2
    print(f"running {args.notebook} in the order of a natural session:")
    try:
        nb = run_session(args.notebook, NATURAL_SESSION)
    except CellExecutionError as exc:
        print(f"error: a cell failed in the kernel: {exc.ename}: {exc.evalue}", file=sys.stderr)
        return 2
    except (OSError, ValueError, nbformat.ValidationError) as exc:
        # nbformat's messages quote the file's start over several lines: keep the first one.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: cannot rebuild the fixture from {args.notebook}: {reason}", file=sys.stderr)
        return 2
    try:
        write_notebook_atomic(nb, args.out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"saved {args.out} (outputs and execution counts as the kernel left them)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
