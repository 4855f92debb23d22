"""Bad input to any command: one `error:` line, exit code 2, and nothing created or changed.

The commands and their options come from `[tool.ml-repro.commands.*]` in pyproject.toml, the
table the repository-wide sweep reads, so a new command is covered once it is declared there.
Each call runs in this process (the imports are already paid for) in an empty working folder.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((TOPIC / "pyproject.toml").read_text())
SCRIPTS = PROJECT["project"]["scripts"]
COMMANDS = PROJECT["tool"]["ml-repro"]["commands"]


def probes() -> list[tuple[str, list[str], str]]:
    """(command, argv, what kind of bad input) for every declared command."""
    cases = []
    for name, spec in COMMANDS.items():
        args = spec["args"]
        cases.append((name, [*args, "--no-such-flag"], "unknown flag"))
        for out in spec["outs"]:
            cases.append((name, [*args, out, "/proc/forbidden/x"], f"{out} unwritable"))
            cases.append((name, [*args, out, "{file}"], f"{out} is a file"))
            for option in spec["floats"]:
                cases.append((name, [*args, out, "{fresh}", option, "nan"], f"{option} nan"))
    return cases


def test_every_command_is_declared():
    assert set(COMMANDS) == set(SCRIPTS)
    for spec in COMMANDS.values():
        assert set(spec) == {"args", "outs", "floats"}


def call(name: str, argv: list[str]) -> int:
    module, function = SCRIPTS[name].split(":")
    try:
        return getattr(importlib.import_module(module), function)(argv)
    except SystemExit as exc:  # argparse exits; main() returns
        return exc.code


@pytest.mark.parametrize(("name", "argv", "kind"), probes(), ids=lambda v: str(v))
def test_bad_input_is_one_error_line_and_leaves_nothing(
    name, argv, kind, tmp_path, monkeypatch, capsys
):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me\n")
    fresh = tmp_path / "fresh"
    argv = [a.replace("{file}", str(existing)).replace("{fresh}", str(fresh)) for a in argv]
    code = call(name, argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, (kind, captured.err)
    assert len(lines) == 1 and lines[0].startswith(f"error: {name}: "), captured.err
    assert existing.read_text() == "keep me\n" and not fresh.exists()
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "cwd",
        "existing.txt",
    ]


# ------------------------------------------------------------------------------------------
# --out names a folder that exists: only an earlier run of the same command may be replaced.


def test_train_never_deletes_files_it_did_not_write(tmp_path, capsys):
    from model_tracking.train import main

    out = tmp_path / "results"
    out.mkdir()
    (out / "thesis-draft.tex").write_text("three years of work")
    code = main(["--epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "did not write" in err
    assert [p.name for p in out.iterdir()] == ["thesis-draft.tex"]
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_train_replaces_its_own_earlier_run(tmp_path, capsys):
    from model_tracking.train import main

    out = tmp_path / "run"
    assert main(["--epochs", "1", "--seed", "1", "--out", str(out)]) == 0
    assert main(["--epochs", "1", "--seed", "2", "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging or old copy left
    capsys.readouterr()
