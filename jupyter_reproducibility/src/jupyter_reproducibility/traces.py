"""The traces out-of-order work leaves in a saved notebook: nbcheck's warnings.

A saved notebook keeps each code cell's execution count. Counts that do not increase top to
bottom, cells never run, counts missing (runs whose outputs were overwritten) and counts
repeated (a kernel restart) say how the outputs were made; a name defined in two cells is the
hidden state that makes re-running a cell change a result. Only hints: the proof is the fresh
run in `nbcheck.py`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode


@dataclass
class Report:
    """What nbcheck found: warnings (traces in the file) and failures (the fresh run differs)."""

    path: Path
    warnings: list[str] = field(default_factory=list)  # check names, e.g. "order"
    failures: list[str] = field(default_factory=list)  # "fresh-error" or "output-changed"
    lines: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        self.lines.append(title)

    def ok(self, message: str) -> None:
        self.lines.append(f"  ok    {message}")

    def warn(self, check: str, message: str, detail: list[str] = ()) -> None:
        self.warnings.append(check)
        self.lines += [f"  warn  {message}", *(f"          {line}" for line in detail)]

    def fail(self, check: str, message: str, detail: list[str] = ()) -> None:
        self.failures.append(check)
        self.lines += [f"  FAIL  {message}", *(f"          {line}" for line in detail)]


def code_cells(nb: NotebookNode) -> list[tuple[int, NotebookNode]]:
    """(number, cell) for every non-empty code cell; numbers count all cells from 1, as shown."""
    return [
        (i, cell)
        for i, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code" and cell.source.strip()
    ]


def label(number: int, cell: NotebookNode) -> str:
    """'cell 5 [6] `accuracy_1 = ...`': position, stored execution count and first line."""
    count = cell.get("execution_count")
    first = cell.source.strip().splitlines()[0]
    first = first if len(first) <= 40 else first[:37] + "..."
    return f"cell {number} [{count if count is not None else ' '}] `{first}`"


def check_execution_counts(nb: NotebookNode, report: Report) -> None:
    report.section("Warnings: execution counts in the saved file")
    cells = code_cells(nb)
    executed = [(n, c) for n, c in cells if c.get("execution_count") is not None]
    if not executed:
        report.ok("no execution counts (a stripped notebook): nothing to trace")
        return

    # A cell whose count is higher than that of a cell below it was run after that cell.
    for i, (number, cell) in enumerate(executed):
        below = [(n, c) for n, c in executed[i + 1 :] if c.execution_count < cell.execution_count]
        if below:
            cells_below = ", ".join(f"cell {n} [{c.execution_count}]" for n, c in below)
            report.warn(
                "order", f"{label(number, cell)} was run after cells below it: {cells_below}"
            )
    if "order" not in report.warnings:
        report.ok("execution counts increase top to bottom")

    if never := [label(n, c) for n, c in cells if c.get("execution_count") is None]:
        report.warn("never-run", f"{len(never)} code cell(s) never run: " + ", ".join(never))

    counts = [c.execution_count for _, c in executed]
    if repeated := sorted({k for k in counts if counts.count(k) > 1}):
        report.warn(
            "restart",
            f"execution count(s) {repeated} appear more than once: the kernel was restarted "
            "between runs, so outputs come from different kernel sessions",
        )
    if missing := sorted(set(range(1, max(counts) + 1)) - set(counts)):
        shown = ", ".join(map(str, missing[:8])) + (", ..." if len(missing) > 8 else "")
        report.warn(
            "hidden-runs",
            f"{max(counts)} runs recorded for {len(executed)} executed cells (count(s) {shown} "
            "missing): some cell was run more than once (or run and deleted), and the outputs "
            "of those runs are gone",
            [line for k in missing[:8] if (line := _suspect_for(k, executed))],
        )


def _suspect_for(missing: int, executed: list[tuple[int, NotebookNode]]) -> str:
    """Which cell most likely ran as count `missing` and was run again later.

    People mostly run downwards: the run numbered k usually sits below the cell numbered k-1
    and above the cell numbered k+1. The cells between those two are the suspects.
    """
    before = [(c.execution_count, n) for n, c in executed if c.execution_count < missing]
    after = [(c.execution_count, n) for n, c in executed if c.execution_count > missing]
    if not before or not after:
        return ""
    (low, above), (high, below) = max(before), min(after)
    if not (between := [n for n, _ in executed if above < n < below]):
        return ""
    return (
        f"run [{missing}] was probably {', '.join(f'cell {n}' for n in between)} (between cell "
        f"{above} [{low}] and cell {below} [{high}]); its stored output is from a later run"
    )


def defined_names(source: str) -> set[str]:
    """Names a cell binds at module level with `x = ...`, `def x` or `class x` (not imports).

    Only a hint about hidden state: a use before definition, or a name created by exec, is
    left to the fresh run, which fails on it for real.
    """
    from IPython.core.inputtransformer2 import TransformerManager  # %magic and !shell lines

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return set()  # the fresh run reports it as a failing cell
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            stored = (n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            names |= {n.id for n in stored if isinstance(n.ctx, ast.Store)}  # not `x[0] = ...`
    return names


def check_redefinitions(nb: NotebookNode, report: Report) -> None:
    report.section("Warnings: names defined in more than one cell")
    defined_in: dict[str, list[int]] = {}
    for number, cell in code_cells(nb):
        for name in sorted(defined_names(cell.source)):
            defined_in.setdefault(name, []).append(number)
    # Not wrong on its own (a clean run is still correct), but it is the hidden state that makes
    # out-of-order runs silently wrong: the value depends on which of the cells ran last.
    for name, numbers in defined_in.items():
        if len(numbers) > 1:
            report.warn(
                "redefinition",
                f"`{name}` is defined in cells {', '.join(map(str, numbers))}: its value depends "
                "on which of them ran last (marimo refuses this; give each its own name)",
            )
    if "redefinition" not in report.warnings:
        report.ok("every name is defined in one cell")
