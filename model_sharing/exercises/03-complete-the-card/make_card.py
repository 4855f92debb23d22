"""The digits classifier's model card, from the Hugging Face Hub's template."""

from __future__ import annotations

import numpy as np
from huggingface_hub import EvalResult, ModelCard, ModelCardData


def build_card(correct: int, n: int) -> ModelCard:
    """The card for a model that got `correct` of `n` test images right."""
    data = ModelCardData(
        model_name="digits-mlp",
        library_name="pytorch",
        tags=["digits", "tabular-classification"],
        metrics=["accuracy"],
        # TODO (exercise): the metadata lacks a license and the training dataset.
        eval_results=[
            EvalResult(
                task_type="tabular-classification",
                dataset_type="scikit-learn/digits",
                dataset_name="scikit-learn digits",
                metric_type="accuracy",
                metric_value=round(correct / n, 4),
            )
        ],
    )
    accuracy = float(np.float32(correct / n))  # what a tensor's .mean().item() gives
    return ModelCard.from_template(
        data,
        model_id="digits-mlp",
        direct_use="Teaching: 64 pixel values in [0, 1] in, 10 logits out.",
        # TODO (exercise): fill the out-of-scope use and the bias, risks and limitations
        # sections, and report the result as a count out of n with a confidence interval.
        results=f"accuracy {accuracy}",
    )
