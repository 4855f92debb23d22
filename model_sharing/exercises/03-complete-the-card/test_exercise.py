"""Checker: the card's metadata validates offline, the key sections are filled, and the result
is a count out of n with an interval - for several results, so nothing is hard-coded."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from model_sharing.card import validate_card
from model_sharing.plumbing import ShareError

HERE = Path(__file__).parent
PLACEHOLDER = "[More Information Needed]"
SECTIONS = ("Out-of-Scope Use", "Bias, Risks, and Limitations")


def learners_build_card():
    spec = importlib.util.spec_from_file_location("learners_card", HERE / "make_card.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_card


def section(text: str, heading: str) -> str:
    body = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    m = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", body, re.MULTILINE | re.DOTALL)
    return m[1].strip() if m else ""


@pytest.mark.parametrize(("correct", "n"), [(438, 450), (7, 10), (1203, 1250)])
def test_card_is_complete(tmp_path, correct, n):
    path = tmp_path / "README.md"
    learners_build_card()(correct, n).save(path)
    problem = None
    try:
        validate_card(path)
    except ShareError as exc:
        problem = str(exc).split(": ", 1)[-1]
    if problem:
        pytest.fail(f"the card's metadata is incomplete: {problem}", pytrace=False)
    text = path.read_text()
    for heading in SECTIONS:
        if not section(text, heading) or PLACEHOLDER in section(text, heading):
            pytest.fail(f"the section {heading!r} still says {PLACEHOLDER}", pytrace=False)
    results = section(text, "Results")
    if f"{correct}/{n}" not in results.replace(" / ", "/"):
        pytest.fail(
            f"the Results section does not give the count out of n ({correct}/{n}): {results!r}",
            pytrace=False,
        )
    if not re.search(r"interval|\bCI\b|±", results, re.IGNORECASE):
        pytest.fail(f"the Results section gives no confidence interval: {results!r}", pytrace=False)
