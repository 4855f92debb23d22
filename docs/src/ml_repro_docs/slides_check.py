"""`slides-check`: every Marp deck fits the projector, and no sentence breaks mid-line.

    uv run --project docs slides-check                 # the root deck and every <topic>/slides.md
    uv run --project docs slides-check path/slides.md  # chosen decks

Two checks per deck:
1. Overflow, measured in a real browser: the deck is rendered by Marp (as `npm run slides`
   does), opened in Chromium at 1280x720, and after `document.fonts.ready` (a late font changes
   line heights) every element of every slide is measured; content whose bottom edge comes
   within MARGIN_PX of the slide's bottom edge, or past its right edge, would be cut off or
   touch the edge when projected.
2. Source lines: Marp renders each newline inside a paragraph as a line break, so a sentence
   wrapped in the source breaks mid-line on the slide. A paragraph must be one source line.
Exit 0 when every deck passes, 1 naming each problem, 2 for bad input (a deck that is missing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ml_repro_docs.plumbing import BadInput, OneLineParser, run_at_edge

REPO = Path(__file__).resolve().parents[3]
SLIDE_W, SLIDE_H = 1280, 720
# Content must end this far above the slide's bottom edge: a margin, so a font that loads late
# or renders a little larger on the projector's machine does not push a line off the slide.
MARGIN_PX = 12
FENCE = re.compile(r"^\s*(```|~~~)")
# A line that starts its own block: blank, heading, list item, table row, quote, HTML, image,
# directive comment, slide break, or a fenced code block.
BLOCK_START = re.compile(r"^\s*($|#|[-*+] |\d+[.)] |\||>|<|!\[|---|\*\*\*|___|```|~~~|\$\$)")

# Runs in the page for slide i (0-based): make it the shown slide (Marp's presenter HTML scales
# code blocks only on the slide it shows), wait for fonts and two frames, then return the lowest
# bottom and the rightmost right edge of any element in it, in slide pixels.
MEASURE = """
async (i) => {
  const svgs = [...document.querySelectorAll('svg[data-marpit-svg]')];
  if (i >= svgs.length) return null;
  const svg = svgs[i];
  location.hash = '#' + (i + 1);
  for (let t = 0; t < 200 && svgs.length > 1 && !svg.classList.contains('bespoke-marp-active'); t++)
    await new Promise(r => setTimeout(r, 10));
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const sections = [...svg.querySelectorAll('foreignObject > section')]
    .filter(s => !['background', 'pseudo'].includes(s.dataset.marpitAdvancedBackground));
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;  // the slide's own 1280 px
  let bottom = 0, right = 0, what = '';
  for (const section of sections) {
    for (const el of section.querySelectorAll('*')) {
      const style = getComputedStyle(el);
      if (style.position === 'absolute' || style.position === 'fixed') continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const b = (r.bottom - box.top) / scale, rt = (r.right - box.left) / scale;
      if (b > bottom) {
        bottom = b;
        what = el.tagName.toLowerCase() + ': ' + (el.textContent || '').trim().slice(0, 50);
      }
      if (rt > right) right = rt;
    }
  }
  return {slide: i + 1, bottom, right, what, active: svg.classList.contains('bespoke-marp-active')};
}
"""


def default_decks(repo: Path) -> list[Path]:
    """The root deck and every top-level folder's slides.md."""
    decks = [repo / "slides.md"] + sorted(repo.glob("*/slides.md"))
    return [d for d in decks if d.is_file()]


def split_lines(markdown: str) -> list[str]:
    """Where a paragraph continues on the next source line (outside front matter, code, comments)."""
    lines = markdown.splitlines()
    problems, fenced, comment = [], False, False
    start = 0
    if lines and lines[0].strip() == "---":
        start = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0) + 1
    for i in range(start, len(lines) - 1):
        line, following = lines[i], lines[i + 1]
        if FENCE.match(line):
            fenced = not fenced
            continue
        if "<!--" in line and "-->" not in line:
            comment = True
        if comment:
            comment = "-->" not in line
            continue
        if fenced or not line.strip() or line.rstrip().endswith(("|", "  ", "\\", "-->", ">")):
            continue
        if line.lstrip().startswith(("|", "<", "#", "![")):
            continue
        if not BLOCK_START.match(following) and not following.startswith("    "):
            problems.append(
                f"line {i + 1}: a sentence continues on line {i + 2} (one paragraph = one line)"
            )
    return problems


def render(marp: Path, deck: Path, out: Path) -> Path:
    html = out / (deck.parent.name + ".html")
    run = subprocess.run(
        [str(marp), "--html", str(deck), "-o", str(html)], capture_output=True, text=True
    )
    if run.returncode != 0 or not html.is_file():
        raise RuntimeError(f"marp failed on {deck}: {run.stderr.strip()[-300:]}")
    return html


def measure(htmls: list[Path], chromium: str, browser=None) -> list[list[dict]]:  # noqa: ANN001
    """Per deck, per slide: content's lowest bottom and rightmost edge, after fonts loaded.
    `browser`: a Playwright Browser to reuse (the tests share one); else Chromium is started."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            own = p.chromium.launch(executable_path=chromium)
            try:
                return measure(htmls, chromium, own)
            finally:
                own.close()
    results = []
    page = browser.new_page(viewport={"width": SLIDE_W, "height": SLIDE_H})
    for html in htmls:
        page.goto(html.as_uri())
        slides = []
        while (slide := page.evaluate(MEASURE, len(slides))) is not None:
            slides.append(slide)
        results.append(slides)
    page.close()
    return results


def chromium_path() -> str:
    found = (
        os.environ.get("CHROME_PATH") or shutil.which("chromium") or shutil.which("google-chrome")
    )
    if not found:
        raise BadInput(
            "no Chromium found: install it (apt-get install chromium) or set CHROME_PATH"
        )
    return found


def check(
    decks: list[Path],
    repo: Path = REPO,
    margin: float = MARGIN_PX,
    browser=None,  # noqa: ANN001 - a Playwright Browser to reuse
) -> list[str]:
    """Every problem in the decks, one line each (empty when all pass)."""
    marp = repo / "node_modules" / ".bin" / "marp"
    if not marp.exists():
        raise BadInput("Marp is not installed: run `npm ci` at the repository root first")
    chromium = chromium_path() if browser is None else ""
    problems = []
    with tempfile.TemporaryDirectory(prefix="slides-check-") as tmp:
        htmls = []
        for k, deck in enumerate(decks):
            out = Path(tmp) / str(k)
            out.mkdir()
            htmls.append(render(marp, deck, out))
        for deck, slides in zip(decks, measure(htmls, chromium, browser), strict=True):
            name = deck.relative_to(repo) if deck.is_relative_to(repo) else deck
            for s in slides:
                if s["bottom"] > SLIDE_H - margin:
                    problems.append(
                        f"{name}: slide {s['slide']}: content ends at {s['bottom']:.0f} px, past "
                        f"{SLIDE_H - margin} px ({SLIDE_H} px slide, {margin} px margin): {s['what']}"
                    )
                if s["right"] > SLIDE_W:
                    problems.append(
                        f"{name}: slide {s['slide']}: content reaches {s['right']:.0f} px, past the "
                        f"right edge ({SLIDE_W} px)"
                    )
            problems += [f"{name}: {p}" for p in split_lines(deck.read_text())]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="slides-check", description=__doc__.splitlines()[0])
    parser.add_argument("decks", nargs="*", type=Path, help="decks (default: every slides.md)")
    args = parser.parse_args(argv)

    def command() -> int:
        decks = [d.resolve() for d in args.decks] or default_decks(REPO)
        missing = [str(d) for d in decks if not d.is_file()]
        if missing:
            raise BadInput(f"no such deck: {', '.join(missing)}")
        problems = check(decks)
        for line in problems:
            print(line)
        print(f"{len(decks)} deck(s), {len(problems)} problem(s)", file=sys.stderr)
        return 1 if problems else 0

    return run_at_edge(command)


if __name__ == "__main__":
    raise SystemExit(main())
