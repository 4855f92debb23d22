"""Bad input never escapes: one `error:` line, exit 2, nothing left behind, for every command.

The commands and their options come from `[tool.ml-repro.commands.*]` in pyproject.toml, so a
command added there is probed without a new test. Run in-process (fast): each `main(argv)`.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

import pytest
from conftest import run_module

TOPIC = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((TOPIC / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
COMMANDS = PYPROJECT["tool"]["ml-repro"]["commands"]


def run(name: str, argv: list[str], capsys, stdout: bool = False):
    """(exit code, stderr lines) of `name argv` run in this process; with stdout=True, also
    the printed output."""
    module, func = SCRIPTS[name].split(":")
    try:
        code = getattr(importlib.import_module(module), func)(argv)
    except SystemExit as exc:  # argparse exits; everything else returns its code
        code = exc.code
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    return (code, err, captured.out) if stdout else (code, err)


def probes() -> list:
    cases = []
    for name, spec in COMMANDS.items():
        cases.append(pytest.param(name, [*spec["args"], "--no-such-flag"], id=f"{name}-flag"))
        for out in spec["outs"]:
            cases.append(
                pytest.param(
                    name, [*spec["args"], out, "/proc/forbidden/x"], id=f"{name}{out}-proc"
                )
            )
            cases.append(
                pytest.param(name, [*spec["args"], out, "EXISTING"], id=f"{name}{out}-file")
            )
        for option in spec["floats"]:
            cases.append(
                pytest.param(name, [*spec["args"], option, "nan"], id=f"{name}{option}-nan")
            )
    return cases


def test_every_script_is_declared():
    assert set(COMMANDS) == set(SCRIPTS)


@pytest.mark.parametrize(("name", "argv"), probes())
def test_bad_input_is_one_line_and_leaves_nothing(name, argv, tmp_path, monkeypatch, capsys):
    if argv[-1] == "/proc/forbidden/x" and not Path("/proc").is_dir():
        pytest.skip("needs Linux's /proc")
    monkeypatch.chdir(tmp_path)
    Path("EXISTING").write_text("a file of the user's\n")
    code, err = run(name, argv, capsys)
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EXISTING"]
    assert Path("EXISTING").read_text() == "a file of the user's\n"


RANDOM = bytes(range(256)) * 8
NOT_A_NOTEBOOK = '{"schema": "envinfo/1", "cells": 3}'
# nbformat 4.5 requires cell ids: reading this one warns (MissingIDFieldWarning), then it fails
# validation (an unknown cell type). The warning must not print before the error line.
NO_IDS_AND_INVALID = json.dumps(
    {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "bogus", "source": "x", "metadata": {}}],
    }
)


@pytest.mark.parametrize("content", [RANDOM, NOT_A_NOTEBOOK, NO_IDS_AND_INVALID])
@pytest.mark.parametrize(
    ("command", "option"),
    [("jr-figures", "--fixture"), ("jr-make-fixture", "--notebook"), ("nbcheck", None)],
)
def test_a_file_that_is_not_a_notebook_is_one_line(command, option, content, tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_bytes(content) if isinstance(content, bytes) else bad.write_text(content)
    out = tmp_path / "out"
    argv = {
        "jr-figures": ["--fixture", str(bad), "--out", str(out)],
        "jr-make-fixture": ["--notebook", str(bad), "--out", str(out / "x.ipynb")],
        "nbcheck": [str(bad), "--no-execute"],
    }[command]
    code, err = run(command, argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and "bad.ipynb" in err[0], (
        err
    )
    assert not out.exists()


@pytest.mark.parametrize("timeout", ["0", "-5", "soon"])
def test_nbcheck_timeout_must_be_a_positive_number(timeout, capsys):
    """0 and negative values used to mean "no limit" to nbclient, silently."""
    notebook = str(Path(__file__).parents[1] / "fixtures" / "trap_out_of_order.ipynb")
    code, err = run("nbcheck", [notebook, "--timeout", timeout], capsys)
    assert code == 2 and len(err) == 1 and "--timeout" in err[0], err


def test_no_library_warning_before_the_error_line(tmp_path):
    """In a real process (pytest swallows warnings in-process): nbformat's MissingIDFieldWarning
    is held back, so stderr is the one error line and nothing else."""
    bad = tmp_path / "bad.ipynb"
    bad.write_text(NO_IDS_AND_INVALID)
    done = run_module("jupyter_reproducibility.nbcheck", str(bad), "--no-execute")
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1, (
        done.stderr
    )
