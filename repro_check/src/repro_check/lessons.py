"""The workshop's lessons as repo-review families, and the one way every failure message is written.

A message says what is wrong, why it matters (one sentence) and which topic shows the fix.
"""

from __future__ import annotations

import os

# family key -> (title shown by repo-review, topic folder of this workshop, what it teaches)
LESSONS: dict[str, tuple[str, str, str]] = {
    "rc-environments": (
        "Environments: declare and lock",
        "environments",
        "A committed lockfile that matches the project, dependencies declared with lower bounds.",
    ),
    "rc-jupyter": (
        "Jupyter: notebooks that rerun anywhere",
        "jupyter_reproducibility",
        "Notebooks stored without outputs and without paths of one person's machine.",
    ),
    "rc-training": (
        "Reproducible training: seeds and determinism",
        "modular_training",
        "A seed in the config or on the command line; deterministic algorithms where torch trains.",
    ),
    "rc-data": (
        "Data: know what the model saw",
        "modular_training",
        "A data hash, a manifest, a DVC/DataLad record or a download checked against a checksum.",
    ),
    "rc-tracking": (
        "Tracking: every run leaves a receipt",
        "model_tracking",
        "A run.json receipt or a tracker (MLflow, W&B, TensorBoard); committed receipts validate.",
    ),
    "rc-sharing": (
        "Sharing models safely",
        "model_sharing",
        "No pickle checkpoints, safetensors for weights, a model card with use, metrics and licence.",
    ),
    "rc-publishing": (
        "Publishing: results others can rerun and cite",
        "slides.md",
        "A results table with its commands, a licence, a valid CITATION.cff, tests run by CI.",
    ),
}


def lesson_url(family: str) -> str:
    """Where the lesson lives: the topic folder in the workshop repository.

    REPRO_CHECK_LESSONS_URL (a base URL, e.g. the published repository) turns it into a web link.
    """
    topic = LESSONS[family][1]
    page = topic if topic.endswith(".md") else f"{topic}/README.md"
    base = os.environ.get("REPRO_CHECK_LESSONS_URL", "").rstrip("/")
    return f"{base}/{page}" if base else page


def families() -> dict[str, dict[str, str | int]]:
    """The repo_review.families entry point: one family per lesson, in the order of the day."""
    return {
        key: {
            "name": f"Reproducibility · {title} ({lesson_url(key)})",
            "order": 100 + n,
            "description": what,
        }
        for n, (key, (title, _topic, what)) in enumerate(LESSONS.items())
    }


def problem(what: str, why: str, family: str) -> str:
    """A failure message: what is wrong, why it matters, and the topic that shows the fix."""
    topic = LESSONS[family][1]
    where = "the closing session (`slides.md`)" if topic == "slides.md" else f"the `{topic}` topic"
    return f"{what}\n\nWhy it matters: {why}\n\nFix: {where} of this workshop shows how ({lesson_url(family)})."
