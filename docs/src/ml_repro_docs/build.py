"""`site-build`: the lesson website, built from the topic folders as they are in this checkout.

    uv run --project docs site-build            # -> docs/_build/html/index.html

Steps: copy docs/site and every topic folder into one staging source tree (docs/_build/src);
sync each topic's locked environment and register it as a Jupyter kernel of its own; point each
staged teaching notebook at its topic's kernel; write the exercise blocks from each topic's
exercises/ folders; render the Marp decks; run Sphinx with warnings as errors. Nothing is
fetched from the network when the uv cache and node_modules are filled (`--offline`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ml_repro_docs.plumbing import BadInput, OneLineParser, check_out, run_at_edge
from ml_repro_docs.stage import (
    copy_project,
    exercise_blocks,
    rewrite_readme,
    session_topics,
    tracked_files,
)

DOCS = Path(__file__).resolve().parents[2]
REPO = DOCS.parent
MARKER = ".ml-repro-site"  # marks a build folder this command made (it may delete only those)


def environment_key(repo: Path, topics: list[str]) -> str:
    """sha256 over every file of every topic (uv.lock, src/, configs, data): what the notebooks
    run with besides their own cells. jupyter-cache keys on the cells and the kernel name only,
    so the cache folder is named after this key: any change to a topic executes them again."""
    digest = hashlib.sha256()
    for topic in topics:
        for path in sorted(tracked_files(repo / topic)):
            digest.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def prepare_out(out: Path, cache_root: Path) -> None:
    """Refuse outputs that are files or cannot be created, and a build folder this command did
    not make; then clear only what it made before."""
    check_out("--cache-root", cache_root)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise BadInput(f"--out {out} is a folder site-build did not make; choose another")
    check_out("--out", out)
    (out / MARKER).write_text("made by site-build; deleted and rebuilt by it\n")
    for name in ("src", "html", "kernels"):
        shutil.rmtree(out / name, ignore_errors=True)


def register_kernel(repo: Path, topic: str, kernels: Path, offline: bool) -> str:
    """Sync the topic's locked environment and install it as kernel `ml-repro-<topic>`."""
    uv = ["uv", "sync", "--locked", "-q", "--project", str(repo / topic)]
    run = subprocess.run(uv + (["--offline"] if offline else []), capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{topic}: `uv sync --locked` failed: {run.stderr.strip()[-400:]}")
    name = f"ml-repro-{topic}"
    python = repo / topic / ".venv" / "bin" / "python"
    install = [str(python), "-m", "ipykernel", "install", "--prefix", str(kernels)]
    install += ["--name", name, "--display-name", f"{topic} (uv)"]
    subprocess.run(install, check=True, capture_output=True)
    return name


def point_notebooks_at(stage_topic: Path, kernel: str) -> None:
    """Each staged teaching notebook names its topic's kernel (MyST-NB runs the one named)."""
    for path in sorted((stage_topic / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        nb.setdefault("metadata", {})["kernelspec"] = {
            "name": kernel,
            "display_name": f"{stage_topic.name} (uv)",
            "language": "python",
        }
        path.write_text(json.dumps(nb, indent=1))


def render_slides(repo: Path, stage: Path, decks: dict[str, Path]) -> None:
    """Every deck to _extra/slides/<name>/slides.html, with the images it shows beside it."""
    marp = repo / "node_modules" / ".bin" / "marp"
    if not marp.exists():
        raise BadInput("Marp is not installed: run `npm ci` at the repository root first")
    for name, deck in decks.items():
        out = stage / "_extra" / "slides" / name
        out.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(
            [str(marp), "--html", str(deck), "-o", str(out / "slides.html")],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"marp failed on {deck}: {run.stderr.strip()[-400:]}")
        from ml_repro_docs.stage import deck_images

        for image in deck_images(deck):
            target = out / image
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(deck.parent / image, target)


def execute_notebooks(stage: Path, cache_path: Path) -> list[str]:
    """Execute the staged teaching notebooks the cache does not hold yet, one per CPU core at a
    time, with jupyter-cache's own parallel executor, into the cache MyST-NB reads: Sphinx then
    renders each from the cache instead of executing them one after another. Each runs in its
    topic's kernel and folder, as MyST-NB would run it. A notebook that fails here is executed
    again by MyST-NB, whose error (with its traceback) fails the build. One line per notebook."""
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache = get_cache(str(cache_path))
    for notebook in sorted(stage.glob("*/notebooks/*.ipynb")):
        cache.add_nb_to_project(str(notebook))
    cache.db.dispose()  # each worker process opens its own connection to the cache's database
    result = load_executor("local-parallel", cache).run_and_cache(timeout=600)
    seconds = {r.uri: r.data.get("execution_seconds", 0.0) for r in cache.list_cache_records()}
    lines = [
        f"executed {Path(u).relative_to(stage)} in {seconds[u]:.1f} s" for u in result.succeeded
    ]
    failed = result.excepted + result.errored
    return lines + [f"{Path(u).relative_to(stage)} failed; Sphinx runs it again" for u in failed]


def sphinx(stage: Path, html: Path, env: dict[str, str]) -> int:
    """sphinx-build -W --keep-going in a child process (so the kernels' env is its own)."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
    cmd += ["-d", str(html.parent / "doctrees"), str(stage), str(html)]
    return subprocess.run(cmd, env={**os.environ, **env}).returncode


def phase(name: str, started: float) -> float:
    """Print how long a build step took (the site's cost is reported, never asserted)."""
    now = time.perf_counter()
    print(f"site-build: {name} {now - started:.1f} s", file=sys.stderr, flush=True)
    return now


def build(repo: Path, out: Path, offline: bool, execution: str, cache_root: Path) -> Path:
    t = time.perf_counter()
    prepare_out(out, cache_root)
    stage, kernels = out / "src", out / "kernels"
    shutil.copytree(DOCS / "site", stage)
    topics = session_topics(repo)
    decks = {"opening": repo / "slides.md"}
    for topic in topics:  # every topic first: a README may link to another topic's folder
        copy_project(repo / topic, stage / topic)
    for topic in topics:
        rewrite_readme(stage / topic / "README.md", topic)
        exercise_blocks(stage / topic, stage / "_generated" / f"{topic}-exercises.md")
        decks[topic] = repo / topic / "slides.md"
        if list((stage / topic / "notebooks").glob("*.ipynb")):
            point_notebooks_at(stage / topic, register_kernel(repo, topic, kernels, offline))
    t = phase("staging, environments and kernels", t)
    render_slides(repo, stage, decks)
    t = phase("slides (Marp)", t)
    cache = cache_root / f"jupyter-cache-{environment_key(repo, topics)}"
    env = {
        "JUPYTER_PATH": str(kernels / "share" / "jupyter"),
        "ML_REPRO_NB_EXECUTION": execution,
        "ML_REPRO_NB_CACHE": str(cache),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    if execution == "cache":
        os.environ.update(env)  # the kernels started below find the topic kernels
        for line in execute_notebooks(stage, cache):
            print(f"site-build: {line}", file=sys.stderr, flush=True)
        t = phase("notebooks, side by side", t)
    if sphinx(stage, out / "html", env) != 0:
        raise RuntimeError(
            "sphinx-build reported warnings or errors (above); the site is not built"
        )
    phase(f"Sphinx (notebooks: {execution})", t)
    return out / "html" / "index.html"


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="site-build", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DOCS / "_build", help="build folder")
    p.add_argument("--offline", action="store_true", help="uv sync --offline (no network)")
    p.add_argument(
        "--cache-root",
        type=Path,
        default=None,
        help="where the executed-notebook cache folders live (default: the build folder)",
    )
    p.add_argument(
        "--execution",
        choices=["cache", "force", "off"],
        default="cache",
        help="notebooks: cache (keyed on every topic file), force, or off",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def command() -> int:
        out = args.out.resolve()
        cache_root = (args.cache_root or out).resolve()
        index = build(REPO, out, args.offline, args.execution, cache_root)
        print(f"site built: {index}")
        return 0

    return run_at_edge(command)


if __name__ == "__main__":
    raise SystemExit(main())
