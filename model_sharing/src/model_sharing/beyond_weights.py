"""Sharing more than weights: a large model's structure from its config, and a dataset card.

A published `config.json` IS the architecture, as code's input: transformers builds the whole
model from it. On PyTorch's `meta` device the tensors have shapes but no memory, so a 7-billion
parameter model's structure can be read, counted and compared on a laptop, offline, without
its 14.5 GB of weights. The data deserves the same care as the model: who made it, under which
licence, how it was split. `DatasetCard.from_template` gives the Hub's standard sections for
that; a card without a licence tells a reuser nothing about what they may do with it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from huggingface_hub import DatasetCard, DatasetCardData, ModelCard
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from model_sharing.reuse import FIXTURES

MISTRAL = FIXTURES / "mistral-7b-v0.1"  # config.json only; see SOURCE.md there


def structure_from_config(folder: Path) -> PreTrainedModel:
    """Build the model a config.json describes, with shapes but no memory (`meta` tensors)."""
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    with torch.device("meta"):  # nothing is allocated, nothing is initialised
        return AutoModelForCausalLM.from_config(config)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def digits_dataset_card(n_train: int, n_test: int, split_seed: int) -> DatasetCard:
    """A dataset card for the digits as this topic splits them, from the Hub's template."""
    data = DatasetCardData(
        pretty_name="scikit-learn digits (8x8), as split for the model-sharing lesson",
        # The UCI Machine Learning Repository's page for the source data states CC BY 4.0
        # (transcribed offline: check it there before you rely on it).
        license="cc-by-4.0",
        task_categories=["image-classification"],
        size_categories=["1K<n<10K"],
        source_datasets=["UCI Optical Recognition of Handwritten Digits"],
    )
    return DatasetCard.from_template(
        data,
        dataset_summary="1,797 handwritten digits as 8x8 pixel counts (0-16), 10 classes, "
        "bundled with scikit-learn as `load_digits`.",
        curators="ML reproducibility workshop (Aalto Scientific Computing)",
        direct_use="Teaching and small classification examples.",
        out_of_scope_use="Any claim about handwriting in general: 13 writers, one scanner.",
        dataset_structure=f"One stratified split with its own seed ({split_seed}): "
        f"{n_train} training and {n_test} test images; the training seed never moves it.",
        data_collection_and_processing_section="32x32 bitmaps from NIST forms, reduced to "
        "8x8 counts of set pixels (Alpaydin and Kaynak, 1998); divided by 16 here.",
        bias_risks_limitations="Writers are shared between train and test, so test accuracy "
        "overstates accuracy on a new writer.",
    )


def licence_problems(model_card: ModelCard, dataset_card: DatasetCard) -> list[str]:
    """What stops a reuser from knowing what they may do: a missing or vague licence in either
    card ("other" needs a `license_name`), checked offline from the cards' metadata."""
    problems = []
    for kind, card in (("model", model_card), ("dataset", dataset_card)):
        licence = card.data.license
        if not (isinstance(licence, str) and licence.strip()):
            problems.append(f"the {kind} card states no license")
        elif licence == "other" and not card.data.to_dict().get("license_name"):
            problems.append(f"the {kind} card says license: other without a license_name")
    return problems
