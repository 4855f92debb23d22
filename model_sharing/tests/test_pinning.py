"""Every loading call we ship - code, README, slides, notebooks, cards - is pinned and safe.

"Pinned": `revision=` (a commit; the functions refuse a branch for a repo id) or
`local_files_only=True` (a folder on disk). "Safe": model loads pass `use_safetensors=True`;
`trust_remote_code=True` only together with `revision=`. The scanner is checked on text with
unpinned calls (a published card's own how-to code), so it can fail.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from model_sharing.pinning import unpinned_calls
from model_sharing.reuse import DISTILBERT

TOPIC = Path(__file__).resolve().parents[1]


def shipped_texts() -> dict[str, str]:
    files = [*sorted((TOPIC / "src").rglob("*.py")), *sorted(TOPIC.glob("tests/fresh_load_*.py"))]
    files += [TOPIC / "README.md", TOPIC / "slides.md"]
    files += sorted(TOPIC.glob("exercises/*/solution/*.py"))
    texts = {str(p.relative_to(TOPIC)): p.read_text() for p in files}
    for nb_path in sorted((TOPIC / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        texts[str(nb_path.relative_to(TOPIC))] = "\n".join(c.source for c in nb.cells)
    return texts


@pytest.mark.parametrize(("name", "text"), list(shipped_texts().items()))
def test_shipped_loading_calls_are_pinned(name, text):
    assert unpinned_calls(text) == [], name


def test_generated_cards_show_pinned_loading_code(digits_folder, lm_folder):
    for folder in (digits_folder, lm_folder):
        text = (folder / "README.md").read_text()
        assert "from_pretrained(" in text or "snapshot_download(" in text
        assert unpinned_calls(text) == [], folder.name


def test_the_scan_catches_unpinned_and_unsafe_calls():
    bad = """
model = AutoModel.from_pretrained("someone/model")
tok = AutoTokenizer.from_pretrained("someone/model")
code = AutoModel.from_pretrained("x/y", use_safetensors=True, trust_remote_code=True)
path = hf_hub_download("x/y", "model.safetensors")
"""
    problems = unpinned_calls(bad)
    assert problems == [
        "line 2: AutoModel.from_pretrained(...) pins no revision=",
        "line 2: AutoModel.from_pretrained(...) does not pass use_safetensors=True",
        "line 3: AutoTokenizer.from_pretrained(...) pins no revision=",
        "line 4: AutoModel.from_pretrained(...) pins no revision=",
        "line 4: AutoModel.from_pretrained(...) trusts remote code without a pinned revision=",
        "line 5: hf_hub_download(...) pins no revision=",
    ]
    good = 'AutoModel.from_pretrained("x/y", revision="' + "a" * 40 + '", use_safetensors=True)'
    assert unpinned_calls(good) == []


def test_a_published_cards_how_to_code_is_unpinned():
    """The distilbert card's own snippets load whatever `main` is today: the scan says so."""
    problems = unpinned_calls((DISTILBERT / "README.md").read_text())
    assert any("pipeline(...) pins no revision=" in p for p in problems)
    assert any(
        "DistilBertModel.from_pretrained(...) does not pass use_safetensors" in p for p in problems
    )
