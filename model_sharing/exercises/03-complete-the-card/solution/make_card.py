"""The digits classifier's model card, from the Hugging Face Hub's template."""

from __future__ import annotations

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from scipy.stats import binomtest


def build_card(correct: int, n: int) -> ModelCard:
    """The card for a model that got `correct` of `n` test images right."""
    data = ModelCardData(
        model_name="digits-mlp",
        license="mit",
        library_name="pytorch",
        tags=["digits", "tabular-classification"],
        datasets=["scikit-learn/digits"],
        metrics=["accuracy"],
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
    ci = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ModelCard.from_template(
        data,
        model_id="digits-mlp",
        direct_use="Teaching: 64 pixel values in [0, 1] in, 10 logits out.",
        out_of_scope_use="Real-world OCR, other image sizes or sources, decisions about people.",
        bias_risks_limitations="1,797 digits from 13 writers; the random split shares writers "
        "between train and test, so accuracy on a new writer is likely lower.",
        results=f"{correct}/{n} test images correct (95% Wilson interval {ci.low:.3f}-{ci.high:.3f})",
    )
