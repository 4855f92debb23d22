"""Bad input on every command: one `error:` line on stderr, exit 2, nothing left behind.

The commands and their options come from `[tool.ml-repro.commands.*]` in pyproject.toml, so a
command added there is swept too; a command missing there fails `test_every_command_is_declared`.
Runs in this process (each command's `main(argv)`): every refusal happens before any work.
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


def entry(command: str):
    module, _, function = SCRIPTS[command].partition(":")
    return getattr(importlib.import_module(module), function)


def probes() -> list[tuple[str, str, list[str]]]:
    """(command, what, extra argv) for each probe; FRESH and FILE are filled in per test."""
    out = []
    for command, spec in DECLARED.items():
        out.append((command, "unknown flag", ["--no-such-flag"]))
        for option in spec["outs"]:
            out.append((command, f"{option} unwritable", [option, "/proc/forbidden/x"]))
            out.append((command, f"{option} a file", [option, "FILE"]))
        for option in spec["floats"]:
            fresh = [spec["outs"][0], "FRESH"] if spec["outs"] else []
            out.append((command, f"{option} nan", [*fresh, option, "nan"]))
            out.append((command, f"{option} inf", [*fresh, option, "inf"]))
    return out


def test_every_command_is_declared():
    assert set(DECLARED) == set(SCRIPTS)


@pytest.mark.parametrize(
    "command, what, extra", probes(), ids=[f"{c}: {w}" for c, w, _ in probes()]
)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    command, what, extra, tmp_path, monkeypatch, capsys
):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    existing = tmp_path / "notes.txt"
    existing.write_text("a file the user keeps\n")
    fresh = tmp_path / "fresh"
    argv = [*DECLARED[command]["args"]]
    argv += [str(existing) if a == "FILE" else str(fresh) if a == "FRESH" else a for a in extra]
    try:
        status = entry(command)(argv)
    except SystemExit as exc:  # argparse refuses before main's body runs
        status = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, (argv, err)
    assert len(err) == 1 and err[0].startswith("error: ") and len(err[0]) > 10, err
    assert existing.read_text() == "a file the user keeps\n"
    assert not fresh.exists() and list(work.iterdir()) == []


@pytest.mark.parametrize(
    "command, argv, words",
    [
        ("scaling-train", ["--lr", "-1"], "--lr must be positive"),
        ("scaling-lightning", ["--lr", "-1"], "--lr must be positive"),
        ("scaling-rng-lab", ["--seed", "1e23"], "--seed"),
        ("scaling-dataloader-bench", ["--batch-size", "-1"], "--batch-size"),
        ("scaling-zero-memory", ["--params", "nan"], "parameter count"),
        ("scaling-model-parallel", ["--variants", "tp,pp-1f1b:1"], "1F1B needs"),
    ],
)
def test_values_a_library_would_choke_on_are_refused(command, argv, words, tmp_path, capsys):
    try:
        outs = DECLARED[command]["outs"]
        status = entry(command)([*argv, outs[0], str(tmp_path / "o")] if outs else argv)
    except SystemExit as exc:
        status = exc.code
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and words in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_an_unknown_lightning_strategy_is_refused_before_any_rank_starts(
    tmp_path, monkeypatch, capfd
):
    """capfd reads the file descriptors, so Lightning's chatter ("GPU available: ...") would
    show even where it writes past sys.stderr: one line, and no process is ever started."""
    import subprocess

    from scaling_multi_gpu import lightning_train

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started for bad input: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", no_process)  # how Lightning starts the other ranks
    monkeypatch.chdir(tmp_path)
    assert lightning_train.main(["--strategy", "bogus"]) == 2
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --strategy bogus"), lines
    assert out == "" and list(tmp_path.iterdir()) == []


def test_a_deepspeed_config_of_random_bytes_is_bad_input(tmp_path, capsys):
    from scaling_multi_gpu import train

    config = tmp_path / "zero.json"
    config.write_bytes(bytes(range(256)) * 4)
    argv = ["--strategy", "deepspeed", "--deepspeed-config", str(config), "--out", str(tmp_path / "o")]  # fmt: skip
    assert train.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "not valid JSON" in lines[0], lines
    assert not (tmp_path / "o").exists()
