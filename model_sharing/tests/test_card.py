"""Cards are written from run.json, parse with huggingface_hub, and fail validation when broken."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard import metadata_load
from model_sharing.card import card_metric, validate_card
from model_sharing.errors import ShareError


@pytest.mark.parametrize(
    ("folder_fixture", "metric_type", "run_key"),
    [
        ("digits_folder", "accuracy", "test_accuracy"),
        ("lm_folder", "perplexity", "heldout_perplexity"),
    ],
)
def test_card_metric_equals_run_json(request, folder_fixture, metric_type, run_key):
    folder = request.getfixturevalue(folder_fixture)
    run = json.loads((folder / "run.json").read_text())
    meta = metadata_load(folder / "README.md")
    assert meta["license"] == "mit"
    value = meta["model-index"][0]["results"][0]["metrics"][0]["value"]
    assert value == run["metrics"][run_key]  # exact: written from the receipt, not retyped
    assert card_metric(folder / "README.md", metric_type) == run["metrics"][run_key]
    validate_card(folder / "README.md")


def test_card_carries_provenance_and_how_to_load(digits_folder):
    run = json.loads((digits_folder / "run.json").read_text())
    text = (digits_folder / "README.md").read_text()
    for needed in (run["weights_sha256"], run["data_sha256"], "## Intended use", "## Limitations"):
        assert needed in text
    if run["lock_sha256"]:
        assert run["lock_sha256"] in text
    assert "from_pretrained" in text and "Zenodo" in text
    assert ModelCard.load(digits_folder / "README.md").data.library_name == "pytorch"


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
        "tags:\n- image-classification\n- digits\n- pytorch_model_hub_mixin",
        "tags: image-classification",
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
