"""nbcheck: do this notebook's stored outputs come from a clean top-to-bottom run?

A saved notebook shows outputs, but not *how* they were produced. The only real test is the one
you would do by hand: restart the kernel, run all, and compare. nbcheck does exactly that, and
also reads the traces out-of-order work leaves in the file, as warnings that say where to look:

  warnings  execution counts that do not increase top to bottom, cells never run, runs that left
            no trace (missing counts), kernel restarts (repeated counts), and names defined in
            more than one cell (the hidden state that makes re-running a cell change a result);
  failures  a fresh kernel runs every cell top to bottom (nbclient): a cell that fails, or whose
            text output differs from the stored one (after masking what differs in every run:
            timings, progress bars, object addresses, any --ignore pattern and the regexes
            of an nbval sanitize file given with --sanitize).

Exit code: 0 the fresh run reproduces every stored output (warnings may remain; --strict makes
them count), 1 the fresh run differs or fails (or --strict and warnings), 2 the notebook or the
kernel could not be used (one `error: ...` line on stderr).

    uv run nbcheck fixtures/trap_out_of_order.ipynb
    uv run nbcheck notebooks/trap.ipynb --no-execute
"""

from __future__ import annotations

import difflib
import json
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from nbformat import NotebookNode

from jupyter_reproducibility.plumbing import (
    UNUSABLE,
    NotebookUnusable,
    OneLineParser,
    execute_in_kernel,
    positive_int,
    read_notebook,
    run_at_edge,
)
from jupyter_reproducibility.traces import (
    Report,
    check_execution_counts,
    check_redefinitions,
    code_cells,
    defined_names,
    label,
)

CLEAN, DIFFERS = 0, 1  # exit codes; UNUSABLE (2) is bad input, as in every command here
# Report and the warnings live in traces.py; re-exported here, where a reader looks for them.
__all__ = [
    "CLEAN",
    "DIFFERS",
    "UNUSABLE",
    "Report",
    "check_execution_counts",
    "check_notebook",
    "check_redefinitions",
    "defined_names",
    "main",
]

# What differs between two honest runs, masked before outputs are compared. (name, pattern, mask)
VOLATILE: list[tuple[str, re.Pattern[str], str]] = [
    ("object address", re.compile(r"0x[0-9a-fA-F]{6,}"), "0x..."),
    ("progress-bar rate", re.compile(r"\[\d+:\d\d(?::\d\d)?<[^\]]*\]"), "[time]"),
    ("duration", re.compile(r"\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|sec|seconds|min)\b"), "<time>"),
]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
COALESCE = CoalesceStreamsPreprocessor()
_CHANNEL = {"stdout": 0, "stderr": 1}  # streams first, each channel together; results after


# --- Failures: restart the kernel, run all, compare -------------------------------------------


def comparable_lines(cell: NotebookNode, ignore: list[re.Pattern[str]]) -> list[str]:
    """A cell's text outputs as lines: stdout, then stderr, then results and errors, masked.

    The kernel sends stdout and stderr on two channels, so their interleaving changes from run to
    run: each channel is compared on its own. nbconvert's CoalesceStreamsPreprocessor then joins
    the pieces of one channel (one `print` may arrive as several messages) and keeps only the
    last drawing of a line a progress bar redrew with `\\r`, as a terminal shows it. Images and
    HTML are not compared (their bytes differ between runs and library versions).
    """
    outputs = cell.get("outputs", [])
    by_channel = sorted(outputs, key=lambda out: _CHANNEL.get(out.get("name"), 2))  # stable
    merged, _ = COALESCE.preprocess_cell(nbformat.from_dict({"outputs": by_channel}), {}, 0)
    lines: list[str] = []
    for out in merged.outputs:
        if out.output_type == "stream":
            prefix = "stderr: " if out.name == "stderr" else ""
            lines += [prefix + line for line in out.text.rstrip("\n").splitlines()]
        elif out.output_type in ("execute_result", "display_data"):
            lines += out.get("data", {}).get("text/plain", "").splitlines()
        elif out.output_type == "error":
            lines.append(f"{out.ename}: {out.evalue}")
    masked = []
    for line in lines:
        line = _ANSI.sub("", line)
        for _, pattern, mask in VOLATILE:
            line = pattern.sub(mask, line)
        for pattern in ignore:
            line = pattern.sub("<ignored>", line)
        masked.append(line)
    return masked


def run_fresh(nb: NotebookNode, cwd: Path, kernel_name: str, timeout: int) -> NotebookNode:
    """Restart and run all: a copy of `nb`, outputs cleared, run top to bottom in a new kernel."""
    fresh = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy: the stored one stays
    for _, cell in code_cells(fresh):
        cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        fresh,
        kernel_name=kernel_name,
        timeout=timeout,
        allow_errors=True,  # a failing cell is a finding, not a crash: keep going and report it
        resources={"metadata": {"path": str(cwd)}},
    )
    execute_in_kernel(client, "the fresh run")
    return fresh


def check_fresh_run(
    nb: NotebookNode, fresh: NotebookNode, report: Report, ignore: list[re.Pattern[str]]
) -> None:
    stored_any = any(c.get("outputs") for _, c in code_cells(nb))
    if not stored_any:
        report.ok("no stored outputs to compare: checking only that a fresh run succeeds")
    fresh_cells = dict(code_cells(fresh))
    for number, cell in code_cells(nb):
        new = fresh_cells[number]
        if errors := [o for o in new.outputs if o.output_type == "error"]:
            message = f"{errors[0].ename}: {errors[0].evalue}"
            report.fail("fresh-error", f"{label(number, cell)} fails in a fresh run: {message}")
        elif stored_any and cell.get("execution_count") is not None:
            before, after = comparable_lines(cell, ignore), comparable_lines(new, ignore)
            if before != after:
                diff = difflib.unified_diff(before, after, "stored", "fresh", lineterm="", n=0)
                report.fail(
                    "output-changed",
                    f"{label(number, cell)} output differs in a fresh run:",
                    [line for line in diff if not line.startswith("@@")],
                )
    if "fresh-error" not in report.failures:
        report.ok("every cell runs in a fresh kernel")
    if stored_any and "output-changed" not in report.failures:
        report.ok("every stored text output is reproduced by the fresh run")


# --- Command line --------------------------------------------------------------------------------


def check_notebook(
    path: Path,
    *,
    execute: bool = True,
    kernel_name: str | None = None,
    timeout: int = 120,
    cwd: Path | None = None,
    ignore: list[str] = (),
    sanitize: Path | None = None,
) -> Report:
    """Run every check on the notebook at `path` and return the report (raises NotebookUnusable)."""
    try:
        patterns = [re.compile(p) for p in [*ignore, *sanitize_regexes(sanitize)]]
    except re.error as exc:
        raise NotebookUnusable(
            f"--ignore {exc.pattern!r} is not a regular expression: {exc}"
        ) from None
    nb = read_notebook(path)
    report = Report(Path(path))
    report.lines.append(f"nbcheck {path}: {len(nb.cells)} cells, {len(code_cells(nb))} code")
    check_execution_counts(nb, report)
    check_redefinitions(nb, report)
    if not execute:
        report.section("Failures: fresh run skipped (--no-execute)")
        return report
    if cwd is not None and not Path(cwd).is_dir():
        raise NotebookUnusable(f"--cwd {cwd} is not a folder")
    kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    started = time.perf_counter()
    fresh = run_fresh(nb, cwd or Path(path).resolve().parent, kernel, timeout)
    report.section(
        f"Failures: fresh kernel ({kernel}), top to bottom, {time.perf_counter() - started:.1f} s"
    )
    check_fresh_run(nb, fresh, report, patterns)
    return report


def sanitize_regexes(path: Path | None) -> list[str]:
    """The regexes of an nbval sanitize file (`regex: ...` then `replace: ...`, read the way
    nbval reads it), so `pytest --nbval-lax --nbval-sanitize-with FILE` and nbcheck share one.
    Stored and fresh outputs get the same mask, so the replacement text does not matter here."""
    if path is None:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookUnusable(f"cannot read --sanitize {path}: {exc}") from None
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)
    if not pairs:
        raise NotebookUnusable(
            f"--sanitize {path} has no `regex:` / `replace:` pair (nbval's format)"
        )
    return [regex for regex, _ in pairs]


def exit_code(report: Report, strict: bool = False) -> int:
    return DIFFERS if report.failures or (strict and report.warnings) else CLEAN


def summary(report: Report, executed: bool = True, strict: bool = False) -> str:
    code = exit_code(report, strict)
    warned = f"{len(report.warnings)} warning(s)"
    if report.failures:
        return (
            f"result: {len(report.failures)} failure(s), {warned} - the stored outputs are not "
            "what a top-to-bottom run gives; restart the kernel and run all before you trust "
            f"or share them (exit {code})"
        )
    if code == DIFFERS:
        return f"result: {warned}, and --strict counts them (exit {code})"
    if not executed:
        return f"result: {warned}; outputs not re-checked (--no-execute) (exit {code})"
    return f"result: a fresh run reproduces every stored output; {warned} (exit {code})"


def run(args) -> int:
    report = check_notebook(
        args.notebook,
        execute=not args.no_execute,
        kernel_name=args.kernel,
        timeout=args.timeout,
        cwd=args.cwd,
        ignore=args.ignore,
        sanitize=args.sanitize,
    )
    print("\n".join(report.lines))
    print(summary(report, executed=not args.no_execute, strict=args.strict))
    return exit_code(report, args.strict)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="nbcheck",
        description="Check that a notebook's stored outputs come from a clean top-to-bottom run.",
        epilog="exit code: 0 a fresh run reproduces the outputs, 1 it does not (or --strict and "
        "warnings), 2 unreadable notebook or unusable kernel",
    )
    parser.add_argument("notebook", type=Path, help="the .ipynb file to check")
    parser.add_argument("--no-execute", action="store_true", help="warnings only: no kernel")
    parser.add_argument("--strict", action="store_true", help="warnings also give exit 1")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="REGEX",
        help="mask this pattern in outputs before comparing (repeatable), e.g. a date",
    )
    parser.add_argument(
        "--sanitize", type=Path, metavar="FILE", help="mask the regexes of an nbval sanitize file"
    )
    parser.add_argument("--kernel", help="kernel to run it in (default: the notebook's own)")
    parser.add_argument(
        "--timeout", type=positive_int, default=120, help="seconds allowed per cell (1 or more)"
    )
    parser.add_argument("--cwd", type=Path, help="the fresh kernel's folder (default: notebook's)")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
