"""The built site: every page in a real browser, every teaching notebook executed, the stored
trap evidence shown as stored, solutions that open; and the browser check proven able to fail on
a copy of the site with planted faults."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import IN_CI, REPO, SCREENSHOTS, Site
from ml_repro_docs.site_check import check_site, pages_of
from ml_repro_docs.stage import session_topics

PAGES = ["index", "setup", "receipt", "exercises", "instructors"]


def teaching_notebooks() -> list[Path]:
    """The notebooks a session teaches with (not exercise starters, not fixtures)."""
    return sorted(REPO.glob("*/notebooks/*.ipynb"))


def test_site_is_built_offline_with_warnings_as_errors(site: Site) -> None:
    if not site.offline:
        if IN_CI:
            pytest.fail("no network namespace (unshare -n): the offline build was not checked")
        pytest.skip("no network namespace here (unshare -n): built with the network available")
    # sphinx-build -W already failed the build on any warning; none may hide in the log either.
    assert not re.search(r": (WARNING|ERROR):", site.log), site.log[-3000:]
    expected = PAGES + [f"sessions/{t}" for t in session_topics(REPO)] + ["sessions/opening"]
    missing = [p for p in expected if not (site.html / f"{p}.html").is_file()]
    assert missing == [], f"pages missing from the site: {missing}"


def test_every_page_loads_offline_with_its_images_and_links(site: Site, browser) -> None:  # noqa: ANN001
    problems = check_site(site.html, browser=browser)
    assert problems == [], "\n".join(problems)
    assert len(pages_of(site.html)) > 20


def output_count(page: Path) -> int:
    return len(re.findall(r'class="[^"]*\bcell_output\b', page.read_text()))


def test_every_teaching_notebook_is_on_its_session_page_with_outputs(site: Site) -> None:
    notebooks = teaching_notebooks()
    assert len(notebooks) >= 10
    problems = []
    for nb in notebooks:
        topic = nb.parents[1].name
        page = site.html / topic / "notebooks" / f"{nb.stem}.html"
        session = (site.html / "sessions" / f"{topic}.html").read_text()
        if not page.is_file():
            problems.append(f"{nb.relative_to(REPO)}: no page")
        elif output_count(page) == 0:
            problems.append(f"{nb.relative_to(REPO)}: its page shows no output")
        if f"../{topic}/notebooks/{nb.stem}.html" not in session:
            problems.append(f"{nb.relative_to(REPO)}: not linked from sessions/{topic}.html")
    assert problems == [], "\n".join(problems)


def test_stored_trap_is_shown_as_stored_next_to_its_fresh_run(site: Site) -> None:
    """The out-of-order evidence is not re-executed: every output it stores is on its page, and
    the fresh run of the same code (notebooks/trap) shows a result the stored file does not."""
    stored = json.loads(
        (REPO / "jupyter_reproducibility/fixtures/trap_out_of_order.ipynb").read_text()
    )
    texts = [
        "".join(o.get("text", "")).strip()
        for c in stored["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    assert texts, "the fixture stores no printed output"
    page = (site.html / "jupyter_reproducibility/fixtures/trap_out_of_order.html").read_text()
    for text in texts:
        for line in text.splitlines():
            assert line.strip().replace("&", "&amp;") in page, line
    fresh = (site.html / "jupyter_reproducibility/notebooks/trap.html").read_text()
    stored_numbers = set(re.findall(r"\d\.\d{3}", " ".join(texts)))
    fresh_numbers = set(re.findall(r"\d\.\d{3}", re.sub(r"<[^>]+>", " ", fresh)))
    assert fresh_numbers - stored_numbers, "the fresh run shows only the stored numbers"


def test_a_collapsed_solution_opens_on_click(site: Site, browser) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((site.html / "index.html").as_uri())
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)
    page.goto((site.html / "sessions" / "modular_training.html").as_uri())
    solution = page.locator(".admonition.solution").first
    body = solution.locator("p").last
    assert not body.is_visible(), "the solution is not collapsed"
    solution.locator("button.toggle-button").first.click()
    body.wait_for(state="visible", timeout=5000)
    page.screenshot(path=str(SCREENSHOTS / "session-modular_training.png"), full_page=True)
    page.close()


@pytest.fixture(scope="module")
def planted(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("planted") / "html"
    shutil.copytree(site.html, copy)
    return copy


def plant(path: Path, html: str) -> None:
    text = path.read_text()
    path.write_text(text.replace("</body>", html + "</body>", 1))


def test_check_fails_on_a_deleted_image(planted: Path, browser) -> None:  # noqa: ANN001
    figure = re.compile(r'<img[^>]+src="((?:\.\./)*_images/[^"]+)"')
    page = next(p for p in sorted(planted.rglob("*.html")) if figure.search(p.read_text()))
    image = figure.search(page.read_text()).group(1)
    (page.parent / image).unlink()
    problems = check_site(planted, [page], browser=browser)
    assert any("image does not load" in p and Path(image).name in p for p in problems), problems


def test_check_fails_on_a_link_to_a_missing_page(planted: Path, browser) -> None:  # noqa: ANN001
    page = planted / "setup.html"
    plant(page, '<a href="sessions/no-such-session.html">next</a>')
    problems = check_site(planted, [page], browser=browser)
    assert any("no-such-session.html, which does not exist" in p for p in problems), problems


def test_check_fails_on_a_script_from_another_host(planted: Path, browser) -> None:  # noqa: ANN001
    page = planted / "receipt.html"
    plant(page, '<script src="https://cdn.example.org/tracker.js"></script>')
    problems = check_site(planted, [page], browser=browser)
    assert any("requests https://cdn.example.org/tracker.js" in p for p in problems), problems
