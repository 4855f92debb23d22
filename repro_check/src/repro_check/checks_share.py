"""Sharing models: no pickle checkpoints, safetensors for weights, a model card that answers questions.

A pickle runs code when it is loaded; safetensors holds only tensors. A card says what the model
is for, how well it does on how many examples, and under which licence it may be used.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from repro_check.checks_code import is_test
from repro_check.fixtures import project_dir
from repro_check.lessons import lesson_url, problem

FAMILY = "rc-sharing"
PICKLE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib", ".bin", ".p", ".sav"}
WEIGHT_SUFFIXES = PICKLE_SUFFIXES | {".safetensors", ".h5", ".keras", ".onnx", ".gguf"}
CARD_NAMES = re.compile(r"(^|/)(model[_-]?card[^/]*\.md|MODEL_CARD\.md)$", re.I)
INTENDED_USE = re.compile(r"intended use|intended for|out-of-scope|use cases", re.I)
METRIC_WITH_N = re.compile(
    r"(\bn\s*=\s*\d|\b\d[\d,]*\s+(test |held-out |validation )?(examples|samples|images|items|sentences))",
    re.I,
)
LICENCE = re.compile(r"^license:\s*\S|^#+\s*licen[cs]e", re.I | re.M)


def is_pickle(path: Path) -> bool:
    """A pickle stream (protocol 2+) or a torch zip checkpoint, which stores a pickle inside."""
    head = path.read_bytes()[:4]
    if head[:1] == b"\x80" and head[1:2] in {b"\x02", b"\x03", b"\x04", b"\x05"}:
        return True
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                return any(n.endswith("data.pkl") for n in z.namelist())
        except zipfile.BadZipFile:
            return False
    return False


def pickles(folder: Path, repo_files: list[str]) -> list[str]:
    return [n for n in repo_files if Path(n).suffix in PICKLE_SUFFIXES and is_pickle(folder / n)]


def shipped_weights(repo_files: list[str]) -> list[str]:
    """Weight files the project ships (test fixtures are material about other models, not its own)."""
    return [n for n in repo_files if Path(n).suffix in WEIGHT_SUFFIXES and not is_test(n)]


class Sharing:
    family = FAMILY
    url = lesson_url(FAMILY)
    requires: set[str] = set()


class RC601(Sharing):
    "No pickle checkpoints in the repository (.pt, .ckpt, .pkl, .bin holding a pickle)"

    @staticmethod
    def check(package: Any, repo_files: list[str]) -> bool | str | None:
        folder = project_dir(package)
        if folder is None:
            return None
        found = pickles(folder, repo_files)
        if not found:
            return True
        what = f"Pickle files committed: {', '.join(found[:5])}."
        why = "loading a pickle runs whatever code it holds, so nobody can safely open your checkpoint."
        return problem(what, why, FAMILY)


class RC602(Sharing):
    "Weights shipped in the repository include a safetensors file"

    @staticmethod
    def check(repo_files: list[str]) -> bool | str | None:
        weights = shipped_weights(repo_files)
        if not weights:
            return None
        if any(n.endswith(".safetensors") for n in weights):
            return True
        what = f"Weights are shipped ({', '.join(weights[:4])}) but none as .safetensors."
        why = "safetensors holds only tensors, loads without running code and reads the same in any framework."
        return problem(what, why, FAMILY)


def model_cards(texts: dict[str, str]) -> dict[str, str]:
    """Files named as model cards, and READMEs with Hub front matter (a Hub model card)."""
    texts = {n: t for n, t in texts.items() if not is_test(n)}
    cards = {n: t for n, t in texts.items() if CARD_NAMES.search(n)}
    for n, t in texts.items():
        if (
            n.rsplit("/", 1)[-1] == "README.md"
            and t.startswith("---")
            and re.search(r"^(license|library_name|pipeline_tag|model-index):", t, re.M)
        ):
            cards[n] = t
    return cards


class RC603(Sharing):
    "Shipped weights come with a model card: intended use, metrics with their n, and a licence"

    @staticmethod
    def check(repo_files: list[str], texts: dict[str, str]) -> bool | str | None:
        weights = shipped_weights(repo_files)
        cards = model_cards(texts)
        if not weights and not cards:
            return None
        why = "without its intended use, its score on how many examples and its licence, a model cannot be reused responsibly."
        if not cards:
            return problem(
                f"Weights ({', '.join(weights[:3])}) but no model card (MODEL_CARD.md or a Hub README).",
                why,
                FAMILY,
            )
        gaps = []
        for name, text in cards.items():
            missing = [
                label
                for label, rx in (
                    ("intended use", INTENDED_USE),
                    ("a metric with its n", METRIC_WITH_N),
                    ("a licence", LICENCE),
                )
                if not rx.search(text)
            ]
            if missing:
                gaps.append(f"{name} lacks {', '.join(missing)}")
        return (
            problem("Incomplete model card: " + "; ".join(gaps) + ".", why, FAMILY)
            if gaps
            else True
        )
