"""Checks on a built site, in a real browser (Playwright driving Debian's Chromium).

Every page is opened from file:// and must: load with no console error and no failed request;
make no request that leaves file:// or localhost (such requests are blocked and reported, so
the check itself never reaches the network); show every image (natural width > 0); link only to
pages and files that exist. `check_site` returns one line per problem; empty means it passed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}

# Runs in the page: every image and whether it loaded; every link target.
PAGE_FACTS = """
() => ({
  images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
})
"""


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROME_PATH") or shutil.which("chromium") or shutil.which("google-chrome")
    )


def pages_of(html: Path) -> list[Path]:
    """Every HTML page of the site, the rendered decks included; Sphinx's own search and index
    pages too (they are linked from every page)."""
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.relative_to(html).parts)


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in {"file", "data", "blob", "about"} or (
        parsed.scheme in {"http", "https", "ws", "wss"} and parsed.hostname in LOCAL_HOSTS
    )


def link_problem(href: str) -> str | None:
    """Why a link target on the site does not resolve, or None. External links are not
    followed (the site is checked offline); file:// links must name an existing file."""
    parsed = urlparse(href)
    if parsed.scheme != "file":
        return None
    target = Path(unquote(parsed.path))
    if target.is_dir():
        target = target / "index.html"
    return None if target.is_file() else f"links to {target}, which does not exist"


def check_page(page, path: Path, html: Path) -> list[str]:  # noqa: ANN001 - a Playwright Page
    """Open one page and return its problems."""
    problems: list[str] = []
    name = path.relative_to(html).as_posix()

    def route(r):  # noqa: ANN001, ANN202
        if is_local(r.request.url):
            r.continue_()
        else:
            problems.append(f"{name}: requests {r.request.url} (leaves file://)")
            r.abort()

    def console(msg):  # noqa: ANN001, ANN202
        if msg.type == "error":
            problems.append(f"{name}: console error: {msg.text}")

    def failed(request):  # noqa: ANN001, ANN202
        if is_local(request.url):
            problems.append(f"{name}: failed to load {request.url}")

    page.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda exc: problems.append(f"{name}: script error: {exc}"))
    page.on("requestfailed", failed)
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate("document.fonts.ready.then(() => true)")
        facts = page.evaluate(PAGE_FACTS)
    finally:
        page.unroute("**/*")
        page.remove_listener("console", console)
        page.remove_listener("requestfailed", failed)
    for image in facts["images"]:
        if not image["ok"]:
            problems.append(f"{name}: image does not load: {image['src']}")
    for href in sorted(set(facts["links"])):
        if (why := link_problem(href.split("#")[0])) is not None:
            problems.append(f"{name}: {why}")
    return problems


def check_site(
    html: Path,
    pages: list[Path] | None = None,
    chromium: str | None = None,
    browser=None,  # noqa: ANN001 - a Playwright Browser to reuse (one per test session)
) -> list[str]:
    """All problems of the given pages (default: every page of the site)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            own = p.chromium.launch(executable_path=chromium or chromium_path())
            try:
                return check_site(html, pages, browser=own)
            finally:
                own.close()
    html = html.resolve()
    problems = []
    for path in [q.resolve() for q in pages] if pages else pages_of(html):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems += check_page(page, path, html)
        page.close()
    return problems
