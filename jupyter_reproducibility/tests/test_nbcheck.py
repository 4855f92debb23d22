"""nbcheck: each check fires on the evidence it is meant to find, and stays quiet on a clean run."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import DATE, notebook, run_module
from jupyter_reproducibility.nbcheck import (
    CLEAN,
    DIFFERS,
    UNUSABLE,
    Report,
    check_execution_counts,
    check_notebook,
    check_redefinitions,
    comparable_lines,
    defined_names,
    exit_code,
    main,
)
from nbformat.v4 import new_code_cell, new_output

from jupyter_reproducibility import nbcheck


def warnings_found(nb: nbformat.NotebookNode) -> list[str]:
    report = Report(Path("x.ipynb"))
    check_execution_counts(nb, report)
    check_redefinitions(nb, report)
    assert report.failures == []  # reading the file alone never fails a notebook
    return report.warnings


# --- warnings: what the saved file gives away (no kernel needed) ----------------------------


def test_in_order_notebook_has_no_warnings() -> None:
    nb = notebook(("import math", 1, None), ("# text", None, None), ("print(math.pi)", 2, "3.14\n"))
    assert warnings_found(nb) == []


def test_out_of_order_never_run_restart_and_hidden_runs_are_warnings() -> None:
    nb = notebook(("a = 1", 3, None), ("b = a", 1, None), ("c = b", None, None), ("d = 1", 1, None))
    found = warnings_found(nb)
    assert found.count("order") == 1  # cell 1 [3] ran after cell 2 [1] and cell 4 [1]
    assert "never-run" in found
    assert "restart" in found  # count 1 twice: two kernel sessions
    assert "hidden-runs" in found  # count 2 missing


def test_a_name_defined_in_two_cells_is_a_warning() -> None:
    nb = notebook(("C = 0.001", 1, None), ("def f():\n    C = 2", 2, None), ("C = 1.0", 3, None))
    report = Report(Path("x.ipynb"))
    check_redefinitions(nb, report)
    assert report.warnings == ["redefinition"]  # `C` inside f is local: only cells 1 and 3
    assert "`C` is defined in cells 1, 3" in report.lines[-1]


@pytest.mark.parametrize(
    ("source", "defines"),
    [
        ("x = y + 1", {"x"}),
        ("a, (b, c) = 1, (2, 3)", {"a", "b", "c"}),
        ("rate: float = 0.1", {"rate"}),
        ("def features(X):\n    inner = X\n    return inner", {"features"}),  # body: local
        ("class Model:\n    size = 3", {"Model"}),
        ("import numpy as np\nfrom math import pi", set()),  # re-importing is harmless
        ("table[0] = 1\ntotal += 1", set()),  # changes a value, does not define a name
        ("%matplotlib inline\nC = 1.0", {"C"}),  # IPython syntax is understood
        ("this is not python", set()),  # left to the fresh run, which fails on it
    ],
)
def test_defined_names(source: str, defines: set[str]) -> None:
    assert defined_names(source) == defines


# --- what counts as the same output --------------------------------------------------------


def lines_of(*outputs: nbformat.NotebookNode, ignore: tuple[str, ...] = ()) -> list[str]:
    cell = new_code_cell("x", outputs=list(outputs))
    return comparable_lines(cell, [re.compile(p) for p in ignore])


def test_output_comparison_ignores_how_the_kernel_chunked_a_print() -> None:
    """One print can arrive as 'text' + '\\n'; that must not count as a changed output."""
    whole = new_output("stream", name="stdout", text="a 1\n")
    chunked = [
        new_output("stream", name="stdout", text="a 1"),
        new_output("stream", name="stderr", text="warning\n"),
        new_output("stream", name="stdout", text="\n"),
    ]
    assert lines_of(whole) == ["a 1"]
    assert lines_of(*chunked) == ["a 1", "stderr: warning"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("<Model object at 0x7f3a9c2b1d90>", "<Model object at 0x7f11aa04e2c0>"),
        ("training took 1.84 s", "training took 12.3 s"),
        ("CPU times: user 210 ms, sys: 3 ms", "CPU times: user 1.2 s, sys: 90 µs"),
        (
            "\r  0%|          | 0/5 [00:00<?, ?it/s]\r100%|##########| 5/5 [00:01<00:00,  4.9it/s]",
            "100%|##########| 5/5 [00:02<00:00,  2.2it/s]",
        ),
    ],
)
def test_volatile_parts_are_masked(first: str, second: str) -> None:
    one = lines_of(new_output("stream", name="stderr", text=first + "\n"))
    two = lines_of(new_output("stream", name="stderr", text=second + "\n"))
    assert one == two


def test_a_changed_number_is_not_masked() -> None:
    """Masking must not hide the lesson: an accuracy is not a duration."""
    one = lines_of(new_output("stream", name="stdout", text="test accuracy 0.970\n"))
    two = lines_of(new_output("stream", name="stdout", text="test accuracy 0.856\n"))
    assert one != two


def test_ignore_masks_a_pattern_of_your_own() -> None:
    today = new_output("stream", name="stdout", text="run on 2026-12-01\n")
    later = new_output("stream", name="stdout", text="run on 2027-01-15\n")
    assert lines_of(today) != lines_of(later)
    date = r"\d{4}-\d\d-\d\d"
    assert lines_of(today, ignore=(date,)) == lines_of(later, ignore=(date,))


# --- bad input: exit 2 and one line ---------------------------------------------------------


def test_unreadable_file_gives_exit_2_and_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ipynb"
    bad.write_text('{"cells": [', encoding="utf-8")
    result = run_module("jupyter_reproducibility.nbcheck", str(bad))
    assert result.returncode == UNUSABLE
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "broken.ipynb" in lines[0]


@pytest.mark.parametrize("content", [None, '{"hello": "world"}', "\x00\xff binary"])
def test_other_unusable_inputs_give_exit_2(tmp_path: Path, capsys, content: str | None) -> None:
    path = tmp_path / "input.ipynb"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main([str(path), "--no-execute"]) == UNUSABLE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("error: ")


def test_unknown_kernel_gives_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook(("x = 1", 1, None)), path)
    assert main([str(path), "--kernel", "no-such-kernel"]) == UNUSABLE
    err = capsys.readouterr().err
    assert err == "error: no Jupyter kernel named 'no-such-kernel' (try --kernel python3)\n"


# --- the four exit codes, with real kernels -------------------------------------------------


@pytest.fixture
def one_fresh_run(monkeypatch, shared_fresh_runs) -> None:
    """The volatile notebook's two saved sessions have the same cells: the checks below compare
    them, with different masks and flags, against one fresh run (see conftest)."""
    monkeypatch.setattr(nbcheck, "run_fresh", shared_fresh_runs)


@pytest.mark.parametrize(
    "mask",
    [["--ignore", DATE], ["--sanitize", str(Path(__file__).parents[1] / "nbval_sanitize.cfg")]],
    ids=["ignore", "nbval-sanitize-file"],
)
def test_clean_notebook_with_timings_passes_exit_0(
    volatile_notebooks, capsys, mask, one_fresh_run
) -> None:
    """The date is masked by --ignore, or by the committed sanitize file nbval reads too."""
    assert main([str(volatile_notebooks["in-order"]), *mask]) == CLEAN
    out = capsys.readouterr().out
    assert "  FAIL  " not in out and "  warn  " not in out
    assert "every stored text output is reproduced by the fresh run" in out


def test_an_unmasked_change_fails_exit_1(volatile_notebooks, capsys, one_fresh_run) -> None:
    """The same notebook without --ignore: the date differs, and only the date cell fails."""
    assert main([str(volatile_notebooks["in-order"])]) == DIFFERS
    out = capsys.readouterr().out
    assert out.count("output differs in a fresh run") == 1
    assert 'cell 5 [5] `print("made on", datetime.datetime.no...` output differs' in out


def test_warnings_only_exit_0_or_1_with_strict(volatile_notebooks, one_fresh_run) -> None:
    """Re-running the import cell at the end leaves traces, but the fresh run reproduces every
    output: that is exit 0, not a failure. --strict makes the warnings count."""
    report = check_notebook(volatile_notebooks["import-again"], ignore=[DATE])
    assert report.failures == []
    assert "order" in report.warnings
    assert exit_code(report) == CLEAN
    assert exit_code(report, strict=True) == DIFFERS
    path = str(volatile_notebooks["import-again"])
    assert main([path, "--no-execute"]) == CLEAN
    assert main([path, "--no-execute", "--strict"]) == DIFFERS


def test_fresh_run_differences_exit_1(fixture_check) -> None:
    assert fixture_check.returncode == DIFFERS, fixture_check.stderr
    assert "the stored outputs are not what a top-to-bottom run gives" in fixture_check.stdout


def test_fresh_run_catches_use_before_define(tmp_path: Path, capsys) -> None:
    """Stored outputs look fine, but top to bottom the first cell cannot run at all. nbcheck has
    no static check for this on purpose: the fresh run finds it for real."""
    path = tmp_path / "early.ipynb"
    nbformat.write(notebook(("print(threshold)", 2, "0.5\n"), ("threshold = 0.5", 1, None)), path)
    assert main([str(path)]) == DIFFERS
    out = capsys.readouterr().out
    assert "cell 1 [2] `print(threshold)` was run after cells below it" in out
    assert "fails in a fresh run: NameError: name 'threshold' is not defined" in out


def test_bad_ignore_pattern_is_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook(("x = 1", 1, None)), path)
    assert main([str(path), "--no-execute", "--ignore", "("]) == UNUSABLE
    assert capsys.readouterr().err.startswith("error: --ignore '(' is not a regular expression")
