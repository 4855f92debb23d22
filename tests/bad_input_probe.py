"""Bad input, probed: every command a project declares is handed input it must refuse.

Run with the project's OWN interpreter (its locked environment), by tests/test_bad_input.py:

    <project>/.venv/bin/python tests/bad_input_probe.py <project-dir>    # JSON report on stdout

Each project declares its commands in its pyproject.toml, one table per `[project.scripts]` entry:

    [tool.ml-repro.commands.tracking-train]
    args = []             # arguments that make an otherwise valid call (a subcommand, an input;
                          # a path is relative to the project folder)
    outs = ["--out"]      # options naming a FOLDER it writes
    file_outs = []        # options naming a FILE it writes (`--figure`, `--out x.json`)
    floats = ["--lr"]     # every option that takes a float
    help_from = "..."     # optional: the command whose --help lists the options this one forwards

and for each command this script runs, in this process (imports are slow; the probes are not):

    CMD *args --no-such-flag                          (every command)
    CMD *args OUT /proc/forbidden/x                   (each folder or file output)
    CMD *args OUT <an existing regular file>          (each folder output)
    CMD *args [OUT <fresh path>] FLOAT nan            (each float option)

Each must exit 2 with exactly one non-empty stderr line, starting `error:`, and leave nothing
behind: the fresh path not created, the existing file unchanged, nothing new in the working
folder (a fresh temporary folder per probe). A command that has not refused after TIMEOUT_S
seconds has started the work it should have refused. stdlib only: it runs in any project.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import tempfile
import tomllib
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

# Not a speed limit: generous enough for slow imports on a loaded machine. A command that
# starts the work instead of refusing is caught either way: by this alarm, or, when it finishes
# sooner, by the files it leaves behind.
TIMEOUT_S = 300
UNWRITABLE = "/proc/forbidden/x"  # /proc refuses new entries, even to root
KEYS = {"args", "outs", "file_outs", "floats", "help_from"}


class ProbeTimeout(BaseException):
    """Raised by the alarm: the command is doing work instead of refusing."""


def declarations(project: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The project's `[project.scripts]` and its `[tool.ml-repro.commands]` tables."""
    data = tomllib.loads((project / "pyproject.toml").read_text())
    scripts = data.get("project", {}).get("scripts", {})
    commands = data.get("tool", {}).get("ml-repro", {}).get("commands", {})
    return scripts, commands


def load(entry: str) -> Callable[[], Any]:
    """`package.module:function` -> the function (what a console script calls)."""
    module, _, attr = entry.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@contextmanager
def captured() -> Iterator[dict[str, str]]:
    """Capture file descriptors 1 and 2 (not only sys.stdout/stderr: libraries and logging
    handlers write to the descriptors)."""
    box: dict[str, str] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield box
        finally:
            for stream in (sys.stdout, sys.stderr):
                with suppress(OSError, ValueError):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            for name, f in (("stdout", out), ("stderr", err)):
                f.seek(0)
                box[name] = f.read().decode(errors="replace")


def _alarm(signum: int, frame: object) -> None:
    raise ProbeTimeout


def fresh_warnings() -> None:
    """Python shows a warning once per place and process: forget what earlier probes saw, so each
    probe shows the chatter a fresh process would."""
    for module in list(sys.modules.values()):
        registry = getattr(module, "__warningregistry__", None)
        if isinstance(registry, dict):
            registry.clear()
    warnings.resetwarnings()


def call(name: str, entry: str, argv: list[str], cwd: Path) -> dict[str, Any]:
    """Run one command in this process as its console script would; exit code and output."""
    old_argv, old_cwd, old_streams = sys.argv, os.getcwd(), (sys.stdout, sys.stderr)
    sys.argv = [name, *argv]
    os.chdir(cwd)
    fresh_warnings()
    signal.signal(signal.SIGALRM, _alarm)
    code: Any
    with captured() as box:
        signal.alarm(TIMEOUT_S)
        try:
            result = load(entry)()
            code = 0 if result is None else result if isinstance(result, int) else 1
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int | None):
                print(exc.code, file=sys.stderr)
        except ProbeTimeout:
            code = f"still running after {TIMEOUT_S} s"
        except BaseException:  # noqa: BLE001 - a traceback is what the probe looks for
            traceback.print_exc()
            code = "traceback"
        finally:
            signal.alarm(0)
            sys.argv = old_argv
            os.chdir(old_cwd)
            # A command may rebind sys.stdout/stderr (to a wrapper of its own): the next probe
            # must write to the descriptors the capture watches.
            sys.stdout, sys.stderr = old_streams
    return {"code": code, **box}


def tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def verdict(result: dict[str, Any], leftovers: list[str]) -> str | None:
    """None when the probe was refused by the rule; else what went wrong."""
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    if result["code"] != 2:
        return f"exit {result['code']}, not 2"
    if len(lines) != 1:
        return f"{len(lines)} stderr lines, not one"
    if not lines[0].startswith("error:"):
        return "the stderr line does not start with `error:`"
    if leftovers:
        return "left behind: " + ", ".join(sorted(leftovers)[:5])
    return None


def probes(spec: dict[str, Any]) -> Iterator[tuple[str, list[str], str | None]]:
    """(what, argv, fresh path that must not appear) for one command's declaration."""
    args = [str(a) for a in spec.get("args", [])]
    outs, file_outs = list(spec.get("outs", [])), list(spec.get("file_outs", []))
    yield "unknown flag", [*args, "--no-such-flag"], None
    for option in outs + file_outs:
        yield f"{option} unwritable", [*args, option, UNWRITABLE], None
    for option in outs:
        yield f"{option} names an existing file", [*args, option, "existing.txt"], None
    for option in spec.get("floats", []):
        out = [*(outs or file_outs)[:1], "fresh"] if outs or file_outs else []
        yield f"{option} nan", [*args, *out, option, "nan"], "fresh" if out else None


def probe_project(project: Path) -> dict[str, Any]:
    scripts, commands = declarations(project)
    report: dict[str, Any] = {"undeclared": [], "stale": [], "bad_keys": [], "probes": []}
    report["unknown_options"] = []
    report["undeclared"] = sorted(set(scripts) - set(commands))
    report["stale"] = sorted(set(commands) - set(scripts))
    for name in sorted(set(scripts) & set(commands)):
        spec = dict(commands[name])
        # An argument naming a file of the project (an input notebook) is read from the project,
        # whatever folder the probe runs in.
        spec["args"] = [
            str(project / a) if (project / str(a)).exists() else str(a)
            for a in spec.get("args", [])
        ]
        if unknown := set(spec) - KEYS:
            report["bad_keys"].append(f"{name}: unknown keys {sorted(unknown)}")
        # A declaration that names an option the command no longer has would probe nothing.
        # `help_from` names the command whose --help lists the options this one passes on;
        # `--optimizer.lr` counts as shown where `--optimizer` is (jsonargparse's subclass options).
        source = spec.get("help_from", name)
        source_args = spec["args"] if source == name else []
        with tempfile.TemporaryDirectory(prefix="bad-input-") as tmp:
            helped = call(source, scripts.get(source, ""), [*source_args, "--help"], Path(tmp))
        for option in [*spec.get("outs", []), *spec.get("file_outs", []), *spec.get("floats", [])]:
            if option not in helped["stdout"] and option.split(".")[0] not in helped["stdout"]:
                report["unknown_options"].append(f"{name}: {option} is not in its --help")
        for what, argv, fresh in probes(spec):
            with tempfile.TemporaryDirectory(prefix="bad-input-") as tmp:
                cwd = Path(tmp)
                (cwd / "existing.txt").write_text("keep me\n")
                before = tree(cwd)
                result = call(name, scripts[name], argv, cwd)
                leftovers = sorted(tree(cwd) - before)
                if (cwd / "existing.txt").read_text() != "keep me\n":
                    leftovers.append("existing.txt (changed)")
                if fresh and (cwd / fresh).exists():
                    leftovers.append(f"{fresh} (created)")
            report["probes"].append(
                {
                    "command": name,
                    "what": what,
                    "argv": argv,
                    "problem": verdict(result, leftovers),
                    "stderr": result["stderr"][-1500:],
                }
            )
    return report


def main() -> int:
    project = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(project / "src"))  # a project that is not installed (planted tests)
    report = probe_project(project)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
