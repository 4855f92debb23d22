"""Why locks matter, shown offline: the same unpinned requirement resolves differently over time.

We build two releases of a tiny package (`tinystats` 1.0.0, then 1.1.0 whose `spread()` switches
from the population to the sample standard deviation) as wheels in a local folder, the "index".
A project asks for `tinystats>=1.0`. Locked on day 1, it keeps 1.0.0 after 1.1.0 appears; an
unpinned install on day 2 gets 1.1.0 and the same code on the same data prints a different number.
Everything runs with `--offline` and `--no-index`: nothing touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from environments.plumbing import OUTPUTS, BadInput, OneLineParser, check_out, run_at_edge
from environments.receipt import atomic_write, write_json_atomic

PACKAGE = "tinystats"
DATA = [2, 4, 4, 4, 5, 5, 7, 9]

# Two releases of one function. 1.1.0 "fixes" it to the sample standard deviation (ddof=1):
# a reasonable change, in a minor release, that silently changes every number computed with it.
SOURCES = {
    "1.0.0": "def spread(xs):\n"
    '    """Population standard deviation."""\n'
    "    m = sum(xs) / len(xs)\n"
    "    return (sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5\n",
    "1.1.0": "def spread(xs):\n"
    '    """Sample standard deviation (changed in 1.1.0)."""\n'
    "    m = sum(xs) / len(xs)\n"
    "    return (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5\n",
}

ANALYSIS_PYPROJECT = f"""\
[project]
name = "analysis"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["{PACKAGE}>=1.0"]  # unpinned: any release from 1.0 on

[tool.uv]
package = false           # a folder of scripts, nothing to build
find-links = ["../wheels"]  # our local "index": a folder of wheels
no-index = true           # and nothing else, so the demo never touches the network
"""


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(version: str, dest: Path) -> Path:
    """Write `tinystats-<version>-py3-none-any.whl`: a wheel is a zip with code and metadata.

    Fixed timestamps make the wheel byte-identical on every run, so its hash (recorded in the
    lock) is reproducible too.
    """
    dist_info = f"{PACKAGE}-{version}.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": f'__version__ = "{version}"\n\n{SOURCES[version]}',
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n"
        "Summary: A tiny statistics package for the drift demo\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: environments.drift\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},{_record_hash(text.encode())},{len(text.encode())}\n"
        for path, text in files.items()
    )
    files[f"{dist_info}/RECORD"] = record + f"{dist_info}/RECORD,,\n"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{PACKAGE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return wheel


def uv(args: list[str], cwd: Path, work: Path) -> str:
    """Run uv offline with a private cache, outside whatever virtual env we were started from."""
    uv_path = shutil.which("uv")
    if uv_path is None:
        raise BadInput("uv not found on PATH (the drift demo drives uv)")
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(work / "cache"))
    done = subprocess.run([uv_path, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BadInput(f"`uv {' '.join(args)}` failed: {why}")
    return done.stdout


def locked_version(project: Path) -> str:
    lock = tomllib.loads((project / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == PACKAGE)


def compiled_version(requirements: str) -> str:
    """The version in `uv pip compile` output (`tinystats==1.1.0`)."""
    return next(
        line.split("==")[1].strip()
        for line in requirements.splitlines()
        if line.startswith(PACKAGE)
    )


def run_in(venv_python: Path) -> tuple[str, float]:
    """What the analysis code sees: the installed version and spread(DATA)."""
    code = f"import {PACKAGE} as t; print(t.__version__, t.spread({DATA}))"
    out = subprocess.run([str(venv_python), "-c", code], capture_output=True, text=True, check=True)
    version, value = out.stdout.split()
    return version, float(value)


def run_drift_demo(work: Path) -> dict:
    """Play days 1-3 in `work` and return what each way of installing resolved to."""
    wheels, analysis = work / "wheels", work / "analysis"
    analysis.mkdir(parents=True)
    (analysis / "pyproject.toml").write_text(ANALYSIS_PYPROJECT)
    (analysis / "requirements.in").write_text(f"{PACKAGE}>=1.0\n")
    python = ["--python", sys.executable]
    # What `pip install -r requirements.in` does, offline: resolve afresh from the "index".
    compile_unpinned = shlex.split("pip compile requirements.in --no-index --find-links ../wheels")
    install_unpinned = shlex.split(
        "pip install -r requirements.in --no-index --find-links ../wheels"
    )

    # Day 1: only 1.0.0 exists. Lock it, and also resolve the unpinned requirements.in.
    build_wheel("1.0.0", wheels)
    uv(["lock", *python], analysis, work)
    day1 = {
        "uv.lock": locked_version(analysis),
        "unpinned": compiled_version(uv(compile_unpinned, analysis, work)),
    }

    # Day 2: 1.1.0 is released. Resolving again gives a new answer; the lock does not move.
    build_wheel("1.1.0", wheels)
    day2_unpinned = compiled_version(uv(compile_unpinned, analysis, work))
    uv(["lock", "--check", *python], analysis, work)  # still valid: the lock need not change
    uv(["sync", "--locked", *python], analysis, work)
    locked_run = run_in(analysis / ".venv" / "bin" / "python")
    uv(["venv", str(work / "unpinned-venv"), *python], analysis, work)
    unpinned_python = work / "unpinned-venv" / "bin" / "python"
    uv([*install_unpinned, "--python", str(unpinned_python)], analysis, work)
    unpinned_run = run_in(unpinned_python)
    day2 = {
        "uv.lock": locked_version(analysis),
        "unpinned": day2_unpinned,
        "locked_install": {"version": locked_run[0], "spread": locked_run[1]},
        "unpinned_install": {"version": unpinned_run[0], "spread": unpinned_run[1]},
    }

    # Day 3: upgrading is a deliberate act, visible as a one-line diff of uv.lock in review.
    uv(["lock", "--upgrade-package", PACKAGE, *python], analysis, work)
    day3 = {"uv.lock": locked_version(analysis)}
    return {
        "package": PACKAGE,
        "requirement": f"{PACKAGE}>=1.0",
        "data": DATA,
        "day1": day1,
        "day2": day2,
        "day3": day3,
    }


def report(result: dict) -> str:
    d1, d2, d3 = result["day1"], result["day2"], result["day3"]
    unpinned = (d2["unpinned_install"]["version"], f"{d2['unpinned_install']['spread']:.3f}")
    locked = (d2["locked_install"]["version"], f"{d2['locked_install']['spread']:.3f}")
    rows = [
        ("day 1", "uv lock", d1["uv.lock"], ""),
        ("day 1", "unpinned resolve (uv pip compile)", d1["unpinned"], ""),
        ("day 2", "uv.lock (uv lock --check passes)", d2["uv.lock"], ""),
        ("day 2", "unpinned install (pip install -r)", *unpinned),
        ("day 2", "locked install (uv sync --locked)", *locked),
        ("day 3", "uv lock --upgrade-package (reviewed)", d3["uv.lock"], ""),
    ]
    lines = [
        f"requirement: {result['requirement']}   data: {result['data']}",
        f"{'when':6} {'how it was installed':38} {'version':8} spread(data)",
    ]
    lines += [f"{w:6} {how:38} {v:8} {s}".rstrip() for w, how, v, s in rows]
    lines.append(
        "=> same code, same data, same requirement: the unpinned install gives a different number;"
        " the lock kept the first resolution until someone chose to upgrade."
    )
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """Bar chart of spread(data) under the locked and the unpinned install (for the slides)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d2 = result["day2"]
    labels = [
        f"uv sync --locked\n{PACKAGE} {d2['locked_install']['version']}",
        f"pip install (unpinned)\n{PACKAGE} {d2['unpinned_install']['version']}",
    ]
    values = [d2["locked_install"]["spread"], d2["unpinned_install"]["spread"]]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    bars = ax.bar(labels, values, color=["tab:blue", "tab:orange"])
    ax.bar_label(bars, fmt="%.3f")
    ax.set_ylabel("spread(data)")
    ax.set_ylim(0, max(values) * 1.2)
    ax.set_title("Day 2: same code, same data, same requirement")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def is_png(path: Path) -> bool:
    """A file `--figure` may overwrite: a PNG (an earlier figure), never another file."""
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def demo(out: Path, figure: Path | None) -> int:
    # Both outputs are checked before the demo runs: a bad --figure leaves no drift.json behind.
    check_out(out, folder=True)
    if figure is not None:
        check_out(figure, folder=False, keeps=is_png)
    # The wheels, projects, venvs and uv cache live in a temp folder that is removed after.
    with tempfile.TemporaryDirectory(prefix="drift-") as tmp:
        result = run_drift_demo(Path(tmp))
    write_json_atomic(out / "drift.json", result)
    if figure is not None:
        plot(result, figure)
    print(report(result))
    print(f"wrote {out / 'drift.json'}")
    if figure is not None:
        print(f"wrote {figure}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-drift", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUTS / "drift", help="folder for drift.json")
    parser.add_argument("--figure", type=Path, help="also draw the day-2 bar chart to this PNG")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: demo(args.out, args.figure))


if __name__ == "__main__":
    sys.exit(main())
