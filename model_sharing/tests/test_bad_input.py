"""Bad input to any command: ONE `error:` line on stderr, exit 2, no library chatter, nothing left.

The first test runs the probes the root sweep runs, from the `[tool.ml-repro.commands.*]`
declarations in pyproject.toml (so a command added without a declaration fails here); the
second feeds each command the hostile inputs that once escaped as tracebacks.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((TOPIC / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
DECLARED = PYPROJECT["tool"]["ml-repro"]["commands"]
FORBIDDEN = "/proc/forbidden/x"  # a folder nobody can create, not even root


def probes() -> list:
    """(command, argv) for: an unknown flag; each out option unwritable or an existing file;
    each float option nan with a fresh out."""
    found = []
    for name, decl in DECLARED.items():
        args = [str(TOPIC / a) if (TOPIC / a).exists() else a for a in decl["args"]]
        found.append(pytest.param(name, [*args, "--no-such-flag"], id=f"{name}-flag"))
        for out in decl["outs"]:
            found.append(pytest.param(name, [*args, out, FORBIDDEN], id=f"{name}{out}-proc"))
            found.append(pytest.param(name, [*args, out, "{file}"], id=f"{name}{out}-file"))
        fresh = [decl["outs"][0], "{fresh}"] if decl["outs"] else []
        for option in decl["floats"]:
            found.append(pytest.param(name, [*args, *fresh, option, "nan"], id=f"{name}{option}"))
    return found


def run_command(name: str, argv: list[str]) -> int:
    """The console script `name`, in this process: `module:main` from [project.scripts]."""
    module, func = SCRIPTS[name].split(":")
    try:
        return getattr(importlib.import_module(module), func)(argv)
    except SystemExit as exc:  # argparse's way out, as the console script would exit
        return exc.code


def refused(name, argv, tmp_path, monkeypatch, capfd, caplog) -> str:
    """Run a call that must be refused; check the rule and return the one error line."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    argv = [
        a.replace("{file}", str(a_file)).replace("{fresh}", str(tmp_path / "fresh")) for a in argv
    ]
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        code = run_command(name, argv)
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert [str(w.message) for w in warned] == [], "library chatter before the error line"
    assert [r.getMessage() for r in caplog.records] == [], "library logs before the error line"
    assert a_file.read_text() == "not a folder"
    assert not (tmp_path / "fresh").exists() and list(workdir.iterdir()) == []
    return lines[0]


def test_every_command_is_declared():
    assert set(DECLARED) == set(SCRIPTS)


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/forbidden is a Linux path")
@pytest.mark.parametrize(("name", "argv"), probes())
def test_sweep(name, argv, tmp_path, monkeypatch, capfd, caplog):
    line = refused(name, argv, tmp_path, monkeypatch, capfd, caplog)
    if "--no-such-flag" in argv:
        assert line == f"error: {name}: unrecognized arguments: --no-such-flag"
    elif "nan" in argv:
        assert "'nan' is not a finite number" in line
    else:
        assert argv[-1].replace("{file}", "a-file").split("/")[-1] in line  # names the path


def _with_json(folder: Path, name: str, edit) -> Path:
    path = folder / name
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return folder


def _metrics(**changes):
    return lambda run: {**run, "metrics": {**run["metrics"], **changes}}


HOSTILE = {
    # config.json of wrong types or keys: refused before the mixin builds anything
    "native-string-hidden": ("ms-native", "config.json", lambda c: {**c, "hidden": "64"}, "hidden"),
    "onnx-zero-classes": ("ms-onnx", "config.json", lambda c: {**c, "n_classes": 0}, "n_classes"),
    "native-bool": ("ms-native", "config.json", lambda c: {**c, "hidden": True}, "hidden"),
    "onnx-unknown-key": ("ms-onnx", "config.json", lambda c: {**c, "depth": 3}, "unknown keys"),
    "native-a-list": ("ms-native", "config.json", lambda c: [c], "not a JSON object"),
    # run.json counts a card divides by or formats
    "card-test-n-0": ("ms-card", "run.json", _metrics(test_n=0, test_correct=0), "test_n"),
    "card-string-count": ("ms-card", "run.json", _metrics(test_correct="438"), "test_correct"),
    "card-more-than-n": ("ms-card", "run.json", _metrics(test_correct=451), "> test_n"),
    "card-null-metrics": ("ms-card", "run.json", lambda r: {**r, "metrics": None}, "metrics"),
    "card-git-a-string": ("ms-card", "run.json", lambda r: {**r, "git": "abc"}, "git"),
    "push-hash-a-number": ("ms-push", "run.json", lambda r: {**r, "weights_sha256": 5}, "sha256"),
}


def hostile_argv(name: str, folder: Path) -> list[str]:
    if name in ("ms-native", "ms-onnx"):
        return ["--from", str(folder), "--out", "{fresh}"]
    if name == "ms-push":
        return [str(folder), "--repo-id", "someone/digits-mlp", "--dry-run"]
    return [str(folder)]


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input(case, folder_copy, tmp_path, monkeypatch, capfd, caplog):
    name, file, edit, named = HOSTILE[case]
    before = {p.name: p.read_bytes() for p in folder_copy.iterdir() if p.name != file}
    folder = _with_json(folder_copy, file, edit)
    line = refused(name, hostile_argv(name, folder), tmp_path, monkeypatch, capfd, caplog)
    assert named in line and file in line, line
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != file} == before


def test_missing_config_is_one_line_without_the_hubs_warning(
    folder_copy, tmp_path, monkeypatch, capfd, caplog
):
    """huggingface_hub logs "config.json not found" and goes on; we refuse first, in one line."""
    (folder_copy / "config.json").unlink()
    argv = ["--from", str(folder_copy), "--out", "{fresh}"]
    line = refused("ms-native", argv, tmp_path, monkeypatch, capfd, caplog)
    assert "config.json not found" in line


@pytest.mark.parametrize("value", ["0", "-1", "1e-3x"])
def test_lr_must_be_a_positive_number(value, tmp_path, monkeypatch, capfd, caplog):
    argv = ["--out", "{fresh}", "--lr", value]
    line = refused("ms-train", argv, tmp_path, monkeypatch, capfd, caplog)
    assert "--lr" in line and value in line
