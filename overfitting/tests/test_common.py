"""The shared pieces: tables, atomic writes, the receipt, the committed figures and slides."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from overfitting.receipt import data_sha256, weights_sha256
from scipy import stats

from overfitting import common

TOPIC = Path(__file__).resolve().parents[1]


def test_markdown_table_formats_numbers():
    md = common.markdown_table([{"a": 0.12345, "b": "x"}, {"a": float("nan"), "b": 3}])
    assert md.splitlines() == ["| a | b |", "|---|---|", "| 0.123 | x |", "| nan | 3 |"]


def test_write_table_leaves_no_temporary_files(tmp_path):
    common.write_table(tmp_path, [{"k": 1, "v": 0.5}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv", "table.md"]
    assert (tmp_path / "table.csv").read_text() == "k,v\n1,0.500\n"


def test_hashes_are_stable_and_sensitive():
    a = {"coef": np.arange(4.0), "bias": np.zeros(1)}
    assert weights_sha256(a) == weights_sha256(dict(reversed(a.items())))  # order-independent
    assert weights_sha256(a) != weights_sha256(
        {"coef": np.arange(4.0) + 1e-12, "bias": np.zeros(1)}
    )
    assert data_sha256(np.ones(3)) != data_sha256(np.ones(3, dtype=np.float32))


def test_mean_ci_agrees_with_scipy():
    values = np.random.default_rng(0).normal(0.3, 0.1, 12)
    m, lo, hi = common.mean_ci(values)
    expected = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert (lo, hi) == pytest.approx(expected)


def coverage(interval, simulations: np.ndarray, truth: float, **kwargs) -> float:
    """Fraction of simulated experiments (rows) whose 95% interval contains the truth."""
    return float(
        np.mean([lo <= truth <= hi for _, lo, hi in (interval(r, **kwargs) for r in simulations)])
    )


def test_corrected_interval_covers_the_truth_when_resamples_share_data():
    """J = 50 resampled differences that share a dataset effect: d_j = mu + a + e_j, with
    corr(d_i, d_j) = rho = r / (1 + r) for n_test / n_train = r = 1/4 (5-fold CV). This is the
    model under which Nadeau & Bengio's correction is exact: it covers the truth 95% of the time,
    while the naive interval (independent resamples) covers it about 41% of the time. 4,000
    simulated experiments: SE of a coverage 0.0035, so the bands below are > 5 SE wide."""
    rng = np.random.default_rng(0)
    r, j, n_sim, mu = 0.25, 50, 4000, 0.01
    rho = r / (1 + r)
    shared = rng.normal(0, np.sqrt(rho), (n_sim, 1))
    sims = mu + 0.02 * (shared + rng.normal(0, np.sqrt(1 - rho), (n_sim, j)))
    assert 0.93 < coverage(common.corrected_ci, sims, mu, test_train_ratio=r) < 0.97
    assert coverage(common.mean_ci, sims, mu) < 0.6
    # With independent resamples (no shared part) the naive interval is the right one.
    independent = mu + 0.02 * rng.normal(0, 1, (n_sim, j))
    assert 0.93 < coverage(common.mean_ci, independent, mu) < 0.97


def test_slides_embed_committed_small_figures():
    slides = (TOPIC / "slides.md").read_text()
    assert slides.startswith("---\nmarp: true")
    embedded = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", slides)
    assert {Path(p).stem for p in embedded} >= {
        "leakage",
        "reusable_holdout",
        "ladder",
        "seed_lottery",
        "nested_cv",
        "replicability",
    }
    for path in embedded:
        f = TOPIC / path
        assert f.is_file(), path
        assert f.stat().st_size < 300_000, path


EXPERIMENT_FILES = [
    "leakage",
    "reusable_holdout",
    "ladder",
    "seed_lottery",
    "nested_cv",
    "replicability",
]
PLUMBING = {"argparse", "csv", "io", "json", "os", "sys", "tempfile", "hashlib", "subprocess"}


@pytest.mark.parametrize("name", EXPERIMENT_FILES)
def test_each_experiment_reads_as_a_story_with_the_plumbing_elsewhere(name):
    """Gallery style: a docstring saying what it teaches, `# %%` sections in reading order with
    a prose title each, the command last; files, receipts and the CLI come from common.py."""
    import ast

    source = (TOPIC / "src" / "overfitting" / f"{name}.py").read_text()
    tree = ast.parse(source)
    assert ast.get_docstring(tree) and "Run: `uv run of-" in ast.get_docstring(tree)
    sections = re.findall(r"^# %%\n# (.+)\n# -+$", source, flags=re.M)
    assert len(sections) >= 4, sections
    assert sections[-1] == "The command"
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & PLUMBING, imported & PLUMBING
    assert "finish(" in source and "save_figure(" in source  # the receipt and figure, via common


def slides() -> list[str]:
    """The deck's slides (front matter dropped), each as its source text."""
    return (TOPIC / "slides.md").read_text().split("\n---\n")[1:]


def test_no_sentence_is_wrapped_across_source_lines():
    """Marp renders every source newline as a line break: one paragraph = one source line."""
    starts = re.compile(r"(#|- |\||!\[|<!--|```|\d+\. |\s+- )")
    for number, slide in enumerate(slides(), 1):
        in_code, previous = False, ""
        for line in slide.splitlines():
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code:
                continue
            wraps = line.strip() and not starts.match(line) and previous
            assert not wraps, f"slide {number}: {line!r} continues the line above"
            previous = (
                line if line.strip() and not line.startswith(("#", "|", "![", "<!--")) else ""
            )


def rendered_lines(slide: str) -> int:
    """Estimated rendered lines: a heading 2, a code block's padding 1, a table row or a code line
    1, text wraps every ~85 characters at 24 px (~105 at the small class's 19 px)."""
    width = 105 if "_class: small" in slide else 85
    lines, in_code = 0, False
    for line in slide.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            lines += in_code
        elif not line.strip() or line.startswith(("<!--", "![")):
            continue
        elif line.startswith("#"):
            lines += 2
        elif in_code or line.startswith("|"):
            lines += 1
        else:
            lines += -(-len(line.strip()) // width)
    return lines


def test_every_slide_fits_1280x720():
    """A heuristic, not a render (no browser here): the one slide measured cut off at 1280x720
    in Chromium scored 16, as did one that fitted; at most 14 leaves a margin. A slide with a
    figure holds a heading and at most two lines of text besides it."""
    for number, slide in enumerate(slides(), 1):
        limit = 4 if "![" in slide else 14
        assert rendered_lines(slide) <= limit, f"slide {number}: {rendered_lines(slide)} lines"
