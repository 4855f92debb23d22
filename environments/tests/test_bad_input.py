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

TOPIC = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((TOPIC / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
COMMANDS = PYPROJECT["tool"]["ml-repro"]["commands"]
EXAMPLE = TOPIC / "example_project"


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


def corrupt_project(tmp_path: Path, lock: bytes | None, pyproject: bool = True) -> Path:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    if pyproject:
        (project / "pyproject.toml").write_bytes((EXAMPLE / "pyproject.toml").read_bytes())
    if lock is not None:
        (project / "uv.lock").write_bytes(lock)
    for export in ("requirements.txt", "pylock.toml", "environment.yml"):
        (project / export).write_bytes((EXAMPLE / export).read_bytes())
    return project


RANDOM = bytes(range(256)) * 8
TRUNCATED = (EXAMPLE / "uv.lock").read_bytes()[:3000]
NOT_A_LOCK = b"version = 1\n[tool]\nx = 1\n"


@pytest.mark.parametrize("command", ["env-export", "env-sync-check", "env-undeclared"])
@pytest.mark.parametrize(
    ("lock", "pyproject", "says"),
    [
        (RANDOM, True, "uv.lock"),
        (TRUNCATED, True, "uv.lock"),
        (NOT_A_LOCK, True, "uv.lock"),
        ((EXAMPLE / "uv.lock").read_bytes(), False, "pyproject.toml"),
    ],
    ids=["random-lock", "truncated-lock", "not-a-lock", "no-pyproject"],
)
def test_corrupt_project_is_refused(command, lock, pyproject, says, tmp_path, capsys):
    """A corrupt uv.lock fails every command that reads it (env-undeclared included: it must not
    skip its locked-environment step and exit 0); the line names the file."""
    project = corrupt_project(tmp_path, lock, pyproject)
    before = sorted(p.name for p in project.iterdir())
    code, err = run(command, ["--project", str(project)], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert sorted(p.name for p in project.iterdir()) == before


def envinfo(path: Path) -> Path:
    path.write_text(json.dumps({"schema": "envinfo/1", "python": {"version": "3.11"}}))
    return path


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["RANDOM", "A.json"], "RANDOM"),
        (["FOLDER", "A.json"], "folder"),
        (["A.json", "B.json", "--limit", "-3"], "--limit"),
        (["A.json", "B.json", "--limit", "0"], "--limit"),
    ],
)
def test_env_diff_refuses(argv, says, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("RANDOM").write_bytes(RANDOM)
    Path("FOLDER").mkdir()
    envinfo(Path("A.json")), envinfo(Path("B.json"))
    code, err = run("env-diff", argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and says in err[0], err


def test_env_diff_limit_keeps_the_count(tmp_path, capsys):
    """--limit 1 shows one row and says how many more: no row is lost from the count."""
    a, b = envinfo(tmp_path / "a.json"), tmp_path / "b.json"
    b.write_text(json.dumps({"schema": "envinfo/1", "python": {"version": "3.12"}, "x": 1}))
    code, _, out = run("env-diff", [str(a), str(b), "--limit", "1"], capsys, stdout=True)
    assert code == 1
    assert "2 difference(s)" in out and "... 1 more" in out
    assert len([line for line in out.splitlines() if line.startswith("  [")]) == 1


def test_check_recipes_refuses_random_bytes(tmp_path, capsys):
    recipe = tmp_path / "Dockerfile"
    recipe.write_bytes(RANDOM)
    code, err = run("env-check-recipes", [str(recipe)], capsys)
    assert code == 2 and len(err) == 1 and "Dockerfile" in err[0], err


def test_drift_bad_figure_leaves_nothing(tmp_path, capsys):
    """A --figure that cannot be written is refused before the demo runs: no drift.json."""
    out = tmp_path / "out"
    code, err = run("env-drift", ["--out", str(out), "--figure", "/proc/forbidden/d.png"], capsys)
    assert code == 2 and len(err) == 1, err
    assert not out.exists()
