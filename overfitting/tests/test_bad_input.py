"""Bad input at every command's edge: one `error:` line, exit status 2, nothing left behind.

The commands and their options come from `[tool.ml-repro.commands.*]` in pyproject.toml, so a
command added there is probed here too; each probe runs in-process (no interpreter start-up).
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((TOPIC / "pyproject.toml").read_text())
SCRIPTS = PROJECT["project"]["scripts"]
DECLARED = PROJECT["tool"]["ml-repro"]["commands"]


def probes() -> list:
    """(command, extra arguments, what the probe is) for every declared command."""
    out = []
    for cmd, spec in DECLARED.items():
        args = spec["args"]
        out.append(pytest.param(cmd, [*args, "--no-such-flag"], None, id=f"{cmd}-unknown-flag"))
        for opt in spec["outs"]:
            out.append(
                pytest.param(cmd, [*args, opt, "/proc/forbidden/x"], None, id=f"{cmd}{opt}-proc")
            )
            out.append(pytest.param(cmd, [*args, opt], "FILE", id=f"{cmd}{opt}-file"))
            for flt in spec["floats"]:
                out.append(pytest.param(cmd, [*args, opt], ("FRESH", flt), id=f"{cmd}{flt}-nan"))
    return out


def call(cmd: str, argv: list[str], capsys) -> tuple[int, str]:
    """Run a [project.scripts] entry point in-process; return (exit status, stderr)."""
    module, func = SCRIPTS[cmd].split(":")
    main = getattr(importlib.import_module(module), func)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's error() exits
        code = exc.code
    return code, capsys.readouterr().err


def test_every_script_is_declared():
    assert set(DECLARED) == set(SCRIPTS)


@pytest.mark.parametrize(("cmd", "argv", "extra"), probes())
def test_bad_input_gives_one_error_line_and_leaves_nothing(
    cmd, argv, extra, tmp_path, monkeypatch, capsys
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me\n")
    fresh = tmp_path / "fresh"
    if extra == "FILE":
        argv = [*argv, str(existing)]
    elif extra is not None:
        argv = [*argv, str(fresh), extra[1], "nan"]
    code, err = call(cmd, argv, capsys)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and len(lines[0]) > 7, err
    assert list(cwd.iterdir()) == []
    assert not fresh.exists()
    assert existing.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("cmd", "argv", "message"),
    [
        ("of-holdout", ["--n", "100000000", "--d", "100000000"], "feature values per set"),
        ("of-holdout", ["--sigma", "-1"], "--sigma must be between 0 and 1"),
        ("of-holdout", ["--threshold", "2"], "--threshold must be between 0 and 1, got 2.0"),
        ("of-holdout", ["--variant", "nope"], "argument --variant: invalid choice: 'nope'"),
        ("of-leakage", ["--parts", "z_nonsense"], "unknown part z_nonsense"),
        ("of-ladder", ["--n", "100000000"], "--n must be at most"),
        ("of-ladder", ["--step", "0"], "--step must be between"),
        ("of-seeds", ["--seed", "-1"], "--seed must be >= 0, got -1"),
        ("of-leakage", ["--reps", "0"], "--reps must be >= 1"),
        ("of-all", ["--only", "leakage,nope"], "unknown experiment nope"),
    ],
)
def test_impossible_values_are_refused_before_any_work(
    cmd, argv, message, tmp_path, monkeypatch, capsys
):
    """Sizes are bounded (a 10^8 x 10^8 holdout would be a 10^16-value allocation)."""
    monkeypatch.chdir(tmp_path)
    code, err = call(cmd, [*argv, "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error:") and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_check_out_tries_to_write_rather_than_trusting_os_access(tmp_path):
    from overfitting.plumbing import BadInput, check_out

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(BadInput, match="cannot be created"):
        check_out(blocker / "results")
    with pytest.raises(BadInput, match="cannot write in /proc"):
        check_out(Path("/proc/forbidden/x"))
    assert check_out(tmp_path / "new" / "results") == tmp_path / "new" / "results"
    assert list(tmp_path.iterdir()) == [blocker]  # checking creates nothing
