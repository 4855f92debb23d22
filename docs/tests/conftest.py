"""Shared by the site's tests: the site, built once per session offline, and the tools it needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1]
REPO = DOCS.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Kept with the matrix logs (.matrix/ is where the root runner writes them).
SCREENSHOTS = Path(os.environ.get("ML_REPRO_SCREENSHOTS", REPO / ".matrix" / "docs-screenshots"))


def need(what: str, ok: bool) -> None:
    """Skip with a reason where a tool is missing; under CI, fail instead (.ci/run installs it)."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"the site's tests need {what}; .ci/setup installs it")
    pytest.skip(f"needs {what}")


@pytest.fixture(scope="session")
def chromium() -> str:
    from ml_repro_docs.site_check import chromium_path

    found = chromium_path()
    need("Chromium (apt-get install chromium, or CHROME_PATH)", bool(found))
    need("libatomic1 for Playwright's driver", playwright_starts())
    return found


def playwright_starts() -> bool:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from playwright.sync_api import sync_playwright as s; s().start().stop()",
        ],
        capture_output=True,
    )
    return run.returncode == 0


@pytest.fixture(scope="session")
def browser(chromium: str):  # noqa: ANN201 - a Playwright Browser
    """One Chromium for every browser test of the session (each opens its own pages)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        started = p.chromium.launch(executable_path=chromium)
        yield started
        started.close()


@pytest.fixture(scope="session")
def marp() -> Path:
    path = REPO / "node_modules" / ".bin" / "marp"
    need("Marp (`npm ci` at the repository root)", path.exists())
    return path


def offline_prefix() -> list[str]:
    """`unshare -n` with loopback up, when this machine allows network namespaces; else []."""
    unshare = shutil.which("unshare")
    ip = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not (unshare and ip):
        return []
    probe = subprocess.run(
        [unshare, "-n", "--", ip, "link", "set", "lo", "up"], capture_output=True
    )
    if probe.returncode != 0:
        return []
    return [unshare, "-n", "--", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]


@dataclass
class Site:
    html: Path
    log: str
    offline: bool


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, marp: Path) -> Site:
    """The site built once, as the README says, from a fresh folder, inside a network namespace
    with loopback only (where the machine allows one), with warnings as errors."""
    from ml_repro_docs.stage import session_topics

    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    # The topics' environments may need a download on a fresh machine: sync them first, with
    # network; the build then uses only uv's cache (--offline).
    for topic in session_topics(REPO):
        if list((REPO / topic / "notebooks").glob("*.ipynb")):
            subprocess.run(
                ["uv", "sync", "--locked", "-q", "--project", str(REPO / topic)],
                env=env,
                check=True,
            )
    out = tmp_path_factory.mktemp("site") / "build"
    prefix = offline_prefix()
    # Executed notebooks are reused from docs/_build only when no topic file changed (the cache
    # folder is named after a hash of them all); a fresh checkout executes every notebook.
    command = [sys.executable, "-m", "ml_repro_docs.build", "--out", str(out), "--offline"]
    command += ["--cache-root", str(DOCS / "_build")]
    run = subprocess.run(prefix + command, capture_output=True, text=True, env=env)
    log = run.stdout + run.stderr
    sys.stderr.write(
        "".join(f"{line}\n" for line in log.splitlines() if line.startswith("site-build:"))
    )
    assert run.returncode == 0, log[-4000:]
    return Site(html=out / "html", log=log, offline=bool(prefix))
