"""nbcheck: does this notebook's stored output come from a clean top-to-bottom run?

A saved notebook shows outputs, but not *how* they were produced. nbcheck looks for the traces
that out-of-order work leaves behind and then re-runs the notebook to see if the outputs hold:

  static   execution counts that do not increase top to bottom, code cells never run, runs that
           left no trace (missing counts: a cell was run more than once), kernel restarts
           (repeated counts), and names used in a cell above the one that defines them;
  dynamic  a fresh kernel runs every cell top to bottom (nbclient); every cell whose fresh output
           differs from the stored one is listed with a diff, and every cell that fails.

Exit code: 0 nothing found, 1 findings, 2 the notebook (or kernel) could not be used.

    uv run nbcheck fixtures/trap_out_of_order.ipynb
    uv run nbcheck notebooks/trap.ipynb --no-execute
"""

from __future__ import annotations

import argparse
import ast
import builtins
import difflib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

# Exit codes, named so the tests and the report say the same thing.
CLEAN, FINDINGS, UNUSABLE = 0, 1, 2


class NotebookUnusable(Exception):
    """The input cannot be checked at all (missing, not JSON, not a notebook, kernel won't run)."""


@dataclass
class Finding:
    """One piece of evidence that the stored notebook does not match a top-to-bottom run."""

    check: str
    message: str
    detail: list[str] = field(default_factory=list)


@dataclass
class Report:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        self.lines.append(title)

    def ok(self, message: str) -> None:
        self.lines.append(f"  ok    {message}")

    def note(self, message: str) -> None:
        self.notes.append(message)
        self.lines.append(f"  note  {message}")

    def find(self, check: str, message: str, detail: list[str] | None = None) -> None:
        finding = Finding(check, message, detail or [])
        self.findings.append(finding)
        self.lines.append(f"  FAIL  {message}")
        self.lines.extend(f"          {line}" for line in finding.detail)


# ---------------------------------------------------------------------------------------------
# Reading and describing cells
# ---------------------------------------------------------------------------------------------


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate; any problem becomes one NotebookUnusable with a readable reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookUnusable(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookUnusable(f"cannot read {path}: {exc}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except json.JSONDecodeError as exc:
        raise NotebookUnusable(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except nbformat.ValidationError as exc:
        raise NotebookUnusable(f"{path} is not a valid notebook: {exc.message}") from None
    except Exception as exc:  # nbformat raises several types for non-notebook JSON
        raise NotebookUnusable(f"{path} is not a valid notebook: {exc}") from None
    return nb


def code_cells(nb: NotebookNode) -> list[tuple[int, NotebookNode]]:
    """(number, cell) for every non-empty code cell; numbers count all cells from 1, as shown."""
    return [
        (i + 1, cell)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and cell.source.strip()
    ]


def label(number: int, cell: NotebookNode) -> str:
    """'cell 5 [6] `accuracy_1 = ...`': position, stored execution count and first line."""
    count = cell.get("execution_count")
    first = cell.source.strip().splitlines()[0]
    if len(first) > 40:
        first = first[:37] + "..."
    return f"cell {number} [{count if count is not None else ' '}] `{first}`"


# ---------------------------------------------------------------------------------------------
# Static checks: execution counts
# ---------------------------------------------------------------------------------------------


def check_execution_counts(nb: NotebookNode, report: Report) -> None:
    cells = code_cells(nb)
    executed = [(n, c) for n, c in cells if c.get("execution_count") is not None]
    report.section("Static: execution counts")
    if not executed:
        report.note("no code cell has an execution count (a stripped notebook): nothing to trace")
        return

    # A cell whose count is higher than that of a cell below it was run after that cell.
    out_of_order = False
    for i, (number, cell) in enumerate(executed):
        later_lower = [
            (n, c) for n, c in executed[i + 1 :] if c.execution_count < cell.execution_count
        ]
        if later_lower:
            out_of_order = True
            below = ", ".join(f"cell {n} [{c.execution_count}]" for n, c in later_lower)
            report.find(
                "order",
                f"{label(number, cell)} was run after cells below it: {below}",
            )
    if not out_of_order:
        report.ok("execution counts increase top to bottom")

    never = [(n, c) for n, c in cells if c.get("execution_count") is None]
    if never:
        report.find(
            "never-run",
            f"{len(never)} code cell(s) never run, so their effect is missing from the outputs: "
            + ", ".join(label(n, c) for n, c in never),
        )
    else:
        report.ok("every code cell was run")

    counts = [c.execution_count for _, c in executed]
    repeated = sorted({k for k in counts if counts.count(k) > 1})
    if repeated:
        report.find(
            "restart",
            f"execution count(s) {repeated} appear more than once: the kernel was restarted "
            "between runs, so outputs come from different kernel sessions",
        )
    missing = sorted(set(range(1, max(counts) + 1)) - set(counts))
    if missing:
        report.find(
            "hidden-runs",
            f"{max(counts)} runs recorded for {len(executed)} executed cells (count(s) "
            f"{_short(missing)} missing): some cell was run more than once (or run and deleted), "
            "and the outputs of those runs are gone",
            [line for k in missing[:8] if (line := _suspects_for(k, executed))],
        )
    elif not repeated:
        report.ok("no hidden runs: each cell ran exactly once (counts 1..N, no gaps)")


def _suspects_for(missing: int, executed: list[tuple[int, NotebookNode]]) -> str:
    """Which cell most likely ran as count `missing` and was run again later.

    People mostly run downwards: the run numbered k usually sits below the cell numbered k-1
    and above the cell numbered k+1. The cells between those two are the suspects.
    """
    before = [(c.execution_count, n) for n, c in executed if c.execution_count < missing]
    after = [(c.execution_count, n) for n, c in executed if c.execution_count > missing]
    if not before or not after:
        return ""
    (low, above), (high, below) = max(before), min(after)
    between = [n for n, _ in executed if above < n < below]
    if not between:
        return ""
    cells = ", ".join(f"cell {n}" for n in between)
    return (
        f"run [{missing}] was probably {cells} (between cell {above} [{low}] and cell {below} "
        f"[{high}]); its stored output is from a later run"
    )


def _short(numbers: list[int], limit: int = 8) -> str:
    shown = ", ".join(map(str, numbers[:limit]))
    return shown + (f", ... ({len(numbers)} in all)" if len(numbers) > limit else "")


# ---------------------------------------------------------------------------------------------
# Static checks: names (use before define, redefinition)
# ---------------------------------------------------------------------------------------------

BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "__builtins__", "display", "get_ipython"}


@dataclass
class CellNames:
    """Names a cell reads before assigning them itself, and names it defines, in source order."""

    reads: list[str] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    assigns: list[str] = field(default_factory=list)  # plain `x = ...` values: redefinition risk


class _NameCollector(ast.NodeVisitor):
    """Walk one cell's module-level code; function and class bodies run later, so are skipped."""

    def __init__(self) -> None:
        self.names = CellNames()
        self._local: set[str] = set()  # defined earlier in this cell or in a comprehension

    def _read(self, name: str) -> None:
        if name not in self._local and name not in self.names.reads:
            self.names.reads.append(name)

    def _define(self, name: str, plain_assignment: bool = False) -> None:
        self._local.add(name)
        if name not in self.names.defines:
            self.names.defines.append(name)
        if plain_assignment and name not in self.names.assigns:
            self.names.assigns.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        else:
            self._define(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the right-hand side is evaluated first
        for target in node.targets:
            self.visit(target)
            for name in _target_names(target):
                self._define(name, plain_assignment=True)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)  # `x += 1` needs x already
        self.visit(node.target)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._define(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        self._define(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases]:
            self.visit(expr)
        self._define(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)

    def _visit_comprehension(self, node: ast.AST, elements: list[ast.AST]) -> None:
        # Loop variables of a comprehension exist only inside it: local while we visit it.
        outside = set(self._local)
        for gen in node.generators:
            self.visit(gen.iter)
            self._local.update(_target_names(gen.target))
            for cond in gen.ifs:
                self.visit(cond)
        for element in elements:
            self.visit(element)
        self._local = outside

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._visit_comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node, [node.key, node.value])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._define(node.name)
        for statement in node.body:
            self.visit(statement)


def _target_names(target: ast.AST) -> list[str]:
    """Names an assignment target binds: `a, b = ...` binds a and b; `x[0] = ...` binds none."""
    return [
        n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]


def cell_names(source: str) -> CellNames | None:
    """Names in one cell; IPython syntax (%magic, !shell) is translated first. None if unparsable."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None
    collector = _NameCollector()
    for statement in tree.body:
        collector.visit(statement)
    return collector.names


def check_names(nb: NotebookNode, report: Report) -> None:
    report.section("Static: names, read top to bottom")
    cells = code_cells(nb)
    names = {number: cell_names(cell.source) for number, cell in cells}
    first_defined: dict[str, int] = {}
    assigned_in: dict[str, list[int]] = {}
    for number, found in names.items():
        if found is None:
            continue
        for name in found.defines:
            first_defined.setdefault(name, number)
        for name in found.assigns:
            assigned_in.setdefault(name, []).append(number)

    used_early = False
    by_number = dict(cells)
    for number, found in names.items():
        if found is None:
            report.note(
                f"{label(number, by_number[number])} is not valid Python: names not checked"
            )
            continue
        for name in found.reads:
            defined_at = first_defined.get(name)
            if name in BUILTINS or defined_at is None or defined_at < number:
                continue  # never defined at all: a star import or a kernel global; the fresh run tells
            used_early = True
            where = (
                "further down in the same cell"
                if defined_at == number
                else f"further down, in cell {defined_at}"
            )
            report.find(
                "use-before-define",
                f"`{name}` is used in {label(number, by_number[number])} but first defined {where}",
            )
    if not used_early:
        report.ok("no name is used above the cell that defines it")

    # Not a finding on its own (a clean run is still correct), but it is the hidden state that
    # makes out-of-order runs silently wrong: the value depends on which cell ran last.
    for name, numbers in assigned_in.items():
        if len(numbers) > 1:
            report.note(
                f"`{name}` is assigned in cells {', '.join(map(str, numbers))}: its value depends "
                "on which of them ran last (marimo refuses this; give each experiment its own name)"
            )


# ---------------------------------------------------------------------------------------------
# Dynamic check: re-execute in a fresh kernel and diff the outputs
# ---------------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def output_text(cell: NotebookNode) -> list[str]:
    """A cell's outputs as comparable lines: stdout, then stderr, then results and errors.

    A kernel may deliver one `print` as one or several stream messages, and stdout and stderr
    interleave differently from run to run, so each stream is joined before it is split into
    lines. Images and HTML are not compared (their bytes differ between runs and library
    versions); object addresses (`at 0x7f...`) are masked because they differ in every process.
    """
    streams = {"stdout": "", "stderr": ""}
    results: list[str] = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            streams[out.get("name", "stdout")] = streams.get(
                out.get("name", "stdout"), ""
            ) + out.get("text", "")
        elif kind in ("execute_result", "display_data"):
            results.extend(out.get("data", {}).get("text/plain", "").splitlines())
        elif kind == "error":
            results.append(f"{out.get('ename')}: {out.get('evalue')}")
    lines = streams["stdout"].splitlines()
    lines += [f"stderr: {line}" for line in streams["stderr"].splitlines()]
    lines += results
    return [_ADDRESS.sub(" at 0x...", _ANSI.sub("", line)) for line in lines]


def execute_fresh(
    nb: NotebookNode, cwd: Path, kernel_name: str, timeout: int
) -> tuple[NotebookNode, float]:
    """Run a copy of `nb` top to bottom in a new kernel, errors kept as outputs; (result, seconds)."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    fresh = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy: the stored one stays intact
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        fresh,
        kernel_name=kernel_name,
        timeout=timeout,
        allow_errors=True,  # a failing cell is a finding, not a crash: keep going and report it
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    started = time.perf_counter()
    try:
        # The kernel's own log (e.g. its TCP notice) is not notebook output: keep it off our report.
        client.execute(stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        raise NotebookUnusable(
            f"no Jupyter kernel named {kernel_name!r} (try --kernel python3)"
        ) from None
    except CellTimeoutError:
        raise NotebookUnusable(
            f"a cell ran longer than --timeout {timeout} s in the fresh run"
        ) from None
    except DeadKernelError as exc:
        raise NotebookUnusable(f"the kernel died during the fresh run: {exc}") from None
    except Exception as exc:  # e.g. the kernel's interpreter is missing or cannot start
        raise NotebookUnusable(
            f"could not run kernel {kernel_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    return fresh, time.perf_counter() - started


def check_fresh_run(
    nb: NotebookNode, fresh: NotebookNode, seconds: float, kernel_name: str, report: Report
) -> None:
    report.section(f"Dynamic: fresh kernel ({kernel_name}), top to bottom, {seconds:.1f} s")
    stored_any = any(c.get("outputs") for _, c in code_cells(nb))
    if not stored_any:
        report.note("no stored outputs to compare: checking only that a fresh run succeeds")
    changed = failed = 0
    fresh_cells = dict(code_cells(fresh))
    for number, cell in code_cells(nb):
        new = fresh_cells[number]
        errors = [o for o in new.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            failed += 1
            report.find(
                "fresh-error",
                f"{label(number, cell)} fails in a fresh run: "
                f"{errors[0].get('ename')}: {errors[0].get('evalue')}",
            )
            continue
        if not stored_any or cell.get("execution_count") is None:
            continue  # nothing stored to compare with; never-run cells are reported above
        before, after = output_text(cell), output_text(new)
        if before != after:
            changed += 1
            diff = difflib.unified_diff(before, after, "stored", "fresh", lineterm="", n=0)
            report.find(
                "output-changed",
                f"{label(number, cell)} output differs in a fresh run:",
                [line for line in diff if not line.startswith("@@")],
            )
    if not failed:
        report.ok("every cell runs in a fresh kernel")
    if stored_any and not changed:
        report.ok("every stored text output is reproduced by the fresh run")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def check_notebook(
    path: Path,
    *,
    execute: bool = True,
    kernel_name: str | None = None,
    timeout: int = 120,
    cwd: Path | None = None,
) -> Report:
    """Run every check on the notebook at `path` and return the report (raises NotebookUnusable)."""
    nb = read_notebook(path)
    report = Report(Path(path))
    total = len(nb.cells)
    report.lines.append(
        f"nbcheck {path}: {total} cells, {len(code_cells(nb))} non-empty code cells"
    )
    check_execution_counts(nb, report)
    check_names(nb, report)
    if execute:
        if cwd is not None and not Path(cwd).is_dir():
            raise NotebookUnusable(f"--cwd {cwd} is not a folder")
        kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        fresh, seconds = execute_fresh(nb, cwd or Path(path).resolve().parent, kernel, timeout)
        check_fresh_run(nb, fresh, seconds, kernel, report)
    else:
        report.section("Dynamic: skipped (--no-execute)")
    return report


def summary(report: Report, executed: bool = True) -> str:
    n = len(report.findings)
    if n == 0 and not executed:
        return "result: no static findings; outputs not re-checked (--no-execute) (exit 0)"
    if n == 0:
        return "result: clean - the stored notebook is what a top-to-bottom run gives (exit 0)"
    return (
        f"result: {n} finding(s) - the stored outputs are not what a top-to-bottom run gives; "
        "restart the kernel and run all before you trust or share them (exit 1)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nbcheck",
        description="Check that a notebook's stored outputs come from a clean top-to-bottom run.",
        epilog="exit code: 0 clean, 1 findings, 2 unreadable notebook or unusable kernel",
    )
    parser.add_argument("notebook", type=Path, help="the .ipynb file to check")
    parser.add_argument(
        "--no-execute", action="store_true", help="static checks only: do not start a kernel"
    )
    parser.add_argument("--kernel", help="kernel to run it in (default: the notebook's own)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell")
    parser.add_argument(
        "--cwd", type=Path, help="working folder of the fresh kernel (default: the notebook's)"
    )
    args = parser.parse_args(argv)
    try:
        report = check_notebook(
            args.notebook,
            execute=not args.no_execute,
            kernel_name=args.kernel,
            timeout=args.timeout,
            cwd=args.cwd,
        )
    except NotebookUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return UNUSABLE
    print("\n".join(report.lines))
    print(summary(report, executed=not args.no_execute))
    return FINDINGS if report.findings else CLEAN


if __name__ == "__main__":
    raise SystemExit(main())
