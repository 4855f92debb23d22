"""Bad input, across every command of every project: one `error:` line, exit 2, nothing left.

tests/bad_input_probe.py runs in each project's own environment and hands every command declared
in `[project.scripts]` an unknown flag, an unwritable output, an existing file where a folder
goes, and NaN for each float option (the project's `[tool.ml-repro.commands]` tables say which
options those are). A command added without a table fails here, so a new command cannot slip
past the rule; an option named in a table but missing from the command's `--help` fails too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from runner import topic_env

PROBE = Path(__file__).with_name("bad_input_probe.py")


def probe(project: Path, env_mode: str) -> dict:
    """The probe's JSON report for one project, run with that project's interpreter."""
    if env_mode == "current":
        cmd = [os.environ.get("ML_REPRO_PYTHON", sys.executable), str(PROBE), str(project)]
    else:  # `uv run --locked` syncs the project's locked environment first where needed
        cmd = ["uv", "run", "--locked", "--quiet", "python", str(PROBE), str(project)]
    env = topic_env("off", False, project / ".matrix-unused")
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"the probe itself failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def problems_in(report: dict) -> list[str]:
    problems = [
        f"{name}: a [project.scripts] command with no [tool.ml-repro.commands.{name}] table"
        for name in report["undeclared"]
    ]
    problems += [f"{name}: a table for a command that does not exist" for name in report["stale"]]
    problems += report["bad_keys"] + report["unknown_options"]
    for p in report["probes"]:
        if p["problem"]:
            tail = textwrap.indent(p["stderr"].strip()[-600:], "      ")
            problems.append(f"{p['command']} {' '.join(p['argv'])}  ({p['what']}): {p['problem']}")
            problems.append(tail)
    return problems


def test_every_command_refuses_bad_input(topic: str, repo: Path, request) -> None:
    if not (repo / topic / "pyproject.toml").is_file():
        pytest.fail(f"{topic}: no pyproject.toml")
    report = probe(repo / topic, request.config.getoption("--env"))
    problems = problems_in(report)
    assert not problems, f"{topic}:\n" + "\n".join(problems)


PLANTED = """
import argparse, math, sys
from pathlib import Path


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def good():
    p = OneLineParser(prog="good")
    p.add_argument("--out", type=Path, default=Path("out"))
    p.add_argument("--lr", type=finite_float, default=0.1)
    args = p.parse_args()
    try:
        if args.out.exists() and not args.out.is_dir():
            raise OSError(f"{args.out} is not a folder")
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: --out {args.out}: {exc}", file=sys.stderr)
        return 2
    (args.out / "result.txt").write_text(str(args.lr))
    return 0


def leaky():  # argparse's usage block, NaN accepted, a file half-written, a traceback
    p = argparse.ArgumentParser(prog="leaky")
    p.add_argument("--out", type=Path, default=Path("out"))
    p.add_argument("--lr", type=float, default=0.1)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.txt").write_text(str(args.lr))
    return 0
"""


def test_the_probe_names_each_planted_fault(tmp_path: Path) -> None:
    project = tmp_path / "planted"
    (project / "src" / "planted").mkdir(parents=True)
    (project / "src" / "planted" / "__init__.py").write_text("")
    (project / "src" / "planted" / "cli.py").write_text(PLANTED)
    (project / "pyproject.toml").write_text(
        textwrap.dedent("""
        [project]
        name = "planted"
        version = "0"
        [project.scripts]
        good = "planted.cli:good"
        leaky = "planted.cli:leaky"
        forgotten = "planted.cli:good"
        [tool.ml-repro.commands.good]
        outs = ["--out"]
        floats = ["--lr"]
        [tool.ml-repro.commands.leaky]
        outs = ["--out"]
        floats = ["--lr", "--momentum"]
        [tool.ml-repro.commands.gone]
        """)
    )
    report = probe(project, "current")
    problems = "\n".join(problems_in(report))
    failed = {(p["command"], p["what"]) for p in report["probes"] if p["problem"]}
    assert {c for c, _ in failed} == {"leaky"}, problems  # `good` keeps every rule
    assert failed >= {
        ("leaky", "unknown flag"),  # argparse's usage block: two lines, not one
        ("leaky", "--out unwritable"),  # a traceback
        ("leaky", "--out names an existing file"),
        ("leaky", "--lr nan"),  # NaN accepted and the fresh folder written
    }, problems
    nan = next(p for p in report["probes"] if p["what"] == "--lr nan" and p["command"] == "leaky")
    assert nan["problem"] == "exit 0, not 2"
    assert "forgotten: a [project.scripts] command with no" in problems
    assert "gone: a table for a command that does not exist" in problems
    assert "leaky: --momentum is not in its --help" in problems
