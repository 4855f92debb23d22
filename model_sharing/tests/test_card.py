"""Cards come from the Hub's template, every standard section is filled, numbers are re-measured.

The card's numbers are checked against an INDEPENDENT computation (a recount on the loaded model,
transformers' own loss, the Wilson interval's defining property), never against the run.json they
were written from.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from huggingface_hub.repocard import metadata_load
from model_sharing.card import (
    SCHEMA_KEYS,
    accuracy_text,
    validate_card,
    write_classifier_card,
)
from model_sharing.classifier import load_classifier
from model_sharing.plumbing import ShareError

TOPIC = Path(__file__).resolve().parents[1]
PLACEHOLDER = "[More Information Needed]"
# Sections of the Hub template a reader of any model card needs; each must say something.
MUST_FILL = [
    "Direct Use",
    "Out-of-Scope Use",
    "Bias, Risks, and Limitations",
    "How to Get Started with the Model",
    "Training Data",
    "Testing Data",
    "Metrics",
    "Results",
    "Citation [optional]",
]


def sections(text: str) -> dict[str, str]:
    """Heading -> its own text (HTML comments and sub-headings removed)."""
    body = re.sub(r"<!--.*?-->", "", text.split("\n---\n", 1)[1], flags=re.DOTALL)
    parts = re.split(r"^#{1,4} (.+)$", body, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("folder_fixture", ["digits_folder", "lm_folder"])
def test_card_is_the_hub_template_with_the_standard_sections_filled(request, folder_fixture):
    text = (request.getfixturevalue(folder_fixture) / "README.md").read_text()
    assert text.count("# Model Card for ") == 1  # the Hub template's title line
    found = sections(text)
    for name in MUST_FILL:
        assert name in found, f"template section {name!r} missing"
        assert found[name] and PLACEHOLDER not in found[name], f"{name!r} not filled"
    assert "@software{" in text  # a BibTeX entry under Citation


INTERVAL = re.compile(r"(\d+)/(\d+) correct = [\d.]+ \(95% Wilson interval ([\d.]+)-([\d.]+)\)")


def score_z(k: int, n: int, p: float) -> float:
    """The score test's statistic for k of n against the proportion p (Wilson, 1927)."""
    return abs(k / n - p) / math.sqrt(p * (1 - p) / n)


def assert_wilson(text: str) -> None:
    """Each end of a 95% Wilson interval is the proportion the score test only just rejects:
    its z is the 97.5% normal quantile (1.96). The ends are printed to 3 decimals, so z = 1.96
    must fall between the z of (end - 0.0005) and of (end + 0.0005). No interval library is
    used: an exact (Clopper-Pearson) or a textbook (Wald) interval has other ends and fails."""
    k, n, low, high = INTERVAL.search(text).groups()
    k, n, low, high = int(k), int(n), float(low), float(high)
    z = statistics.NormalDist().inv_cdf(0.975)
    for end, edge in ((low, 0.0), (high, 1.0)):
        if k / n == edge:  # 0/n or n/n: that end is 0 or 1 itself
            assert end == edge, text
            continue
        zs = [score_z(k, n, min(max(end + d, 1e-12), 1 - 1e-12)) for d in (-5e-4, 5e-4)]
        assert min(zs) <= z <= max(zs), (text, end, zs)


def test_card_accuracy_is_a_recount_out_of_n_with_a_wilson_interval(digits_folder, split):
    model = load_classifier(digits_folder)
    with torch.no_grad():
        correct = int((model(split.x_test).argmax(1) == split.y_test).sum())
    n = len(split.y_test)
    text = (digits_folder / "README.md").read_text()
    assert f"{correct}/{n} correct" in text
    assert_wilson(text)
    value = metadata_load(digits_folder / "README.md")["model-index"][0]["results"][0]
    assert value["metrics"][0]["value"] == round(correct / n, 4)  # 4 digits, no float32 tail
    assert f"split: test ({n} images" in text


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 10), (438, 450), (450, 450)])
def test_the_stated_interval_is_wilsons_at_small_n_and_at_the_edges(k, n):
    text = accuracy_text(k, n)
    assert text.startswith(f"{k}/{n} correct = {k / n:.4f} (95% Wilson interval ")
    assert_wilson(text)


def test_lm_card_perplexity_matches_transformers_own_loss(lm_folder):
    from conftest import SEED
    from model_sharing.tiny_lm import generate_corpus, token_blocks
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(lm_folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        lm_folder, local_files_only=True, use_safetensors=True
    ).eval()
    blocks = token_blocks(generate_corpus(200, SEED + 10_000), tok, 32)
    with torch.no_grad():
        ppl = math.exp(model(input_ids=blocks, labels=blocks).loss.item())
    text = (lm_folder / "README.md").read_text()
    reported = float(re.search(r"perplexity (\d+\.\d+) over (\d+) tokens", text)[1])
    assert reported == pytest.approx(ppl, abs=2e-3)
    assert f"over {blocks[:, 1:].numel()} tokens" in text
    low, high = map(float, re.search(r"95% interval (\d+\.\d+)-(\d+\.\d+)", text).groups())
    assert low < ppl < high


def test_pipeline_tags_fit_the_inputs(digits_folder, lm_folder):
    # 64 floats in, 10 logits out: no Hub pipeline feeds that, and image-* would promise images
    assert "pipeline_tag" not in metadata_load(digits_folder / "README.md")
    assert metadata_load(lm_folder / "README.md")["pipeline_tag"] == "text-generation"


def test_card_keys_are_schema_fields_and_typos_are_caught(folder_copy):
    path = folder_copy / "README.md"
    assert set(metadata_load(path)) <= SCHEMA_KEYS
    path.write_text(path.read_text().replace("license: mit", "licence: mit", 1))
    with pytest.raises(ShareError) as err:
        validate_card(path)
    assert "unknown metadata key 'licence' (did you mean 'license'?)" in str(err.value)
    assert "license must be a non-empty string" in str(err.value)


def checkout_commit() -> str | None:
    """HEAD of the git checkout around this topic, asked of git itself; None outside one."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=TOPIC, capture_output=True)
    except OSError:  # no git installed: certainly no checkout to name
        return None
    return done.stdout.decode().strip() if done.returncode == 0 else None


def provenance_row(card_text: str, name: str) -> str:
    return re.search(rf"^\| {re.escape(name)} \| `(.*)` \|$", card_text, re.MULTILINE)[1]


def test_card_carries_provenance(digits_folder):
    """In a checkout the card names the commit; in a copy outside one it says there is none."""
    run = json.loads((digits_folder / "run.json").read_text())
    text = (digits_folder / "README.md").read_text()
    assert provenance_row(text, "weights sha256") == run["weights_sha256"]
    assert provenance_row(text, "data sha256") == run["data_sha256"]
    commit = checkout_commit()
    if commit is None:
        assert run["git"] is None
        assert provenance_row(text, "code commit").startswith("none: trained outside a git")
    else:
        assert run["git"]["commit"] == commit
        assert provenance_row(text, "code commit") == f"{commit} (dirty: {run['git']['dirty']})"
    assert ModelCard.load(digits_folder / "README.md").data.library_name == "pytorch"


@pytest.mark.parametrize(
    ("git", "stated"),
    [
        (None, "none: trained outside a git checkout, so no commit names the code"),
        ({"commit": "f" * 40, "dirty": True}, "f" * 40 + " (dirty: True)"),
    ],
)
def test_card_states_the_commit_or_that_there_is_none(folder_copy, git, stated):
    """Both situations on any machine: the card is rewritten from an edited run.json."""
    run = json.loads((folder_copy / "run.json").read_text())
    (folder_copy / "run.json").write_text(json.dumps({**run, "git": git}))
    write_classifier_card(folder_copy)
    assert provenance_row((folder_copy / "README.md").read_text(), "code commit") == stated


def _rewrite_meta(path, **changes):
    card = ModelCard.load(path)
    for k, v in changes.items():
        setattr(card.data, k, v)
    card.save(path)


def test_missing_license_fails_validation(folder_copy):
    _rewrite_meta(folder_copy / "README.md", license=None)
    with pytest.raises(ShareError, match="license must be a non-empty string"):
        validate_card(folder_copy / "README.md")


def test_wrongly_typed_fields_fail_validation(folder_copy):
    path = folder_copy / "README.md"
    text = path.read_text().replace("value: 0.", "value: not-a-number-0.", 1)
    text = text.replace(
        "tags:\n- digits\n- tabular-classification\n- pytorch_model_hub_mixin",
        "tags: digits",
        1,
    )
    path.write_text(text)
    with pytest.raises(ShareError) as err:
        validate_card(path)
    assert "must be a number" in str(err.value) and "tags must be" in str(err.value)


def test_unparsable_yaml_is_one_clear_error(folder_copy):
    path = folder_copy / "README.md"
    path.write_text(path.read_text().replace("license: mit", "license: [mit", 1))
    with pytest.raises(ShareError, match="YAML metadata does not parse"):
        validate_card(path)


def test_card_without_metadata_fails(tmp_path):
    (tmp_path / "README.md").write_text("# a model\nno metadata\n")
    with pytest.raises(ShareError, match="no YAML metadata"):
        validate_card(tmp_path / "README.md")
