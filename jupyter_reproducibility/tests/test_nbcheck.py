"""nbcheck: each check fires on the evidence it is meant to find, and stays quiet on a clean run."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOKS, run_module
from jupyter_reproducibility.make_fixture import merge_streams
from jupyter_reproducibility.nbcheck import (
    CLEAN,
    FINDINGS,
    UNUSABLE,
    Report,
    cell_names,
    check_execution_counts,
    check_names,
    main,
    output_text,
)
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def notebook(*cells: tuple[str, int | None, str | None]) -> nbformat.NotebookNode:
    """A notebook from (source, execution_count, printed text) triples; '#'-only = markdown."""
    built = []
    for source, count, printed in cells:
        if source.startswith("#"):
            built.append(new_markdown_cell(source))
            continue
        outputs = [new_output("stream", name="stdout", text=printed)] if printed else []
        built.append(new_code_cell(source, execution_count=count, outputs=outputs))
    return new_notebook(
        cells=built, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )


def static_findings(nb: nbformat.NotebookNode) -> list[str]:
    report = Report(Path("x.ipynb"))
    check_execution_counts(nb, report)
    check_names(nb, report)
    return [f.check for f in report.findings]


# --- static checks: no kernel needed --------------------------------------------------------


def test_in_order_notebook_has_no_static_findings() -> None:
    nb = notebook(("import math", 1, None), ("# text", None, None), ("print(math.pi)", 2, "3.14\n"))
    assert static_findings(nb) == []


def test_out_of_order_never_run_restart_and_hidden_runs_are_found() -> None:
    nb = notebook(("a = 1", 3, None), ("b = a", 1, None), ("c = b", None, None), ("d = 1", 1, None))
    found = static_findings(nb)
    assert found.count("order") == 1  # cell 1 [3] ran after cell 2 [1] and cell 4 [1]
    assert "never-run" in found
    assert "restart" in found  # count 1 twice: two kernel sessions
    assert "hidden-runs" in found  # count 2 missing


def test_use_before_define_is_found_top_to_bottom() -> None:
    nb = notebook(("print(threshold)", 2, "0.5\n"), ("threshold = 0.5", 1, None))
    report = Report(Path("x.ipynb"))
    check_names(nb, report)
    assert [f.check for f in report.findings] == ["use-before-define"]
    assert "`threshold` is used in cell 1" in report.findings[0].message
    assert "first defined further down, in cell 2" in report.findings[0].message


def test_use_before_define_within_one_cell() -> None:
    report = Report(Path("x.ipynb"))
    check_names(notebook(("print(rate)\nrate = 0.1", 1, None)), report)
    assert "first defined further down in the same cell" in report.findings[0].message


@pytest.mark.parametrize(
    ("source", "reads", "defines"),
    [
        ("x = y + 1", ["y"], ["x"]),
        ("x = 1\nprint(x)", ["print"], ["x"]),  # defined earlier in the same cell
        ("def f(a):\n    return a + later\n", [], ["f"]),  # body runs when called, not here
        ("squares = [i * i for i in range(n)]", ["range", "n"], ["squares"]),
        ("total += step", ["step", "total"], ["total"]),
        ("%matplotlib inline\nimport numpy as np", [], ["np"]),  # IPython syntax is understood
        ("for k, v in items:\n    pass", ["items"], ["k", "v"]),
        ("table[0] = 1", ["table"], []),  # item assignment changes, does not define
        (
            "try:\n    pass\nexcept ValueError as err:\n    print(err)",
            ["ValueError", "print"],
            ["err"],
        ),
    ],
)
def test_cell_names(source: str, reads: list[str], defines: list[str]) -> None:
    names = cell_names(source)
    assert names is not None
    assert sorted(set(names.reads) - {"get_ipython"}) == sorted(reads)
    assert sorted(names.defines) == sorted(defines)


def test_output_comparison_ignores_how_the_kernel_chunked_a_print() -> None:
    """One print can arrive as 'text' + '\\n'; that must not count as a changed output."""
    whole = new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="a 1\n")])
    chunked = new_code_cell(
        "print(1)",
        outputs=[
            new_output("stream", name="stdout", text="a 1"),
            new_output("stream", name="stderr", text="warning\n"),
            new_output("stream", name="stdout", text="\n"),
        ],
    )
    assert output_text(whole) == ["a 1"]
    assert output_text(chunked) == ["a 1", "stderr: warning"]
    merge_streams(chunked)
    assert len(chunked.outputs) == 3  # only *consecutive* same-name streams are joined
    del chunked.outputs[1]
    merge_streams(chunked)
    assert [o.text for o in chunked.outputs] == ["a 1\n"]


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


# --- dynamic checks: fresh kernels ----------------------------------------------------------


def test_fresh_run_catches_use_before_define(tmp_path: Path, capsys) -> None:
    """Stored outputs look fine, but top to bottom the first cell cannot run at all."""
    path = tmp_path / "early.ipynb"
    nbformat.write(notebook(("print(threshold)", 2, "0.5\n"), ("threshold = 0.5", 1, None)), path)
    assert main([str(path)]) == FINDINGS
    out = capsys.readouterr().out
    assert "cell 1 [2] `print(threshold)` was run after cells below it" in out
    assert "`threshold` is used in cell 1" in out
    assert "fails in a fresh run: NameError: name 'threshold' is not defined" in out


def test_clean_top_to_bottom_run_passes(tmp_path: Path, capsys) -> None:
    """The same trap notebook, run top to bottom in one go, is clean: exit 0."""
    path = tmp_path / "trap.ipynb"
    shutil.copy(NOTEBOOKS / "trap.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    nbformat.write(nb, path)

    assert main([str(path)]) == CLEAN
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "every stored text output is reproduced by the fresh run" in out
    # the redefinition is still pointed out, as a note that does not change the exit code
    assert "`C` is assigned in cells 4, 7" in out
