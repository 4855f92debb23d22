"""Model card from the Hub's own template, filled from the run receipt.

A card (Mitchell et al., 2018) says what the model is for, what it is not for, what it was
trained on, how well it did and how sure we are of that. `ModelCard.from_template` gives the
Hub's standard sections (uses, out-of-scope use, bias/risks/limitations, training data,
evaluation, citation, ...); we fill them, and the numbers come FROM run.json, so nobody copies a
metric by hand. An accuracy is reported as a count out of n with a 95% interval: "438/450" says
how much evidence there is, "0.9733333587646484" only says float32 was involved.

The Hub validates card metadata online (`ModelCard.validate` needs the network); offline we
check the YAML keys against the fields `ModelCardData` knows and their types (`validate_card`).

Run: `uv run ms-card outputs/digits-mlp` (rewrite and validate the card of a shared folder).
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import math
import sys
from numbers import Real
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard import metadata_load

from model_sharing.errors import ShareError, run_cli

# The YAML keys of a model card = the fields ModelCardData reads (eval results live under
# "model-index"). A key outside this set is ignored by the Hub: usually a typo ("licence").
SCHEMA_KEYS = {
    name for name in inspect.signature(ModelCardData.__init__).parameters if name not in {
        "self", "kwargs", "ignore_metadata_errors", "eval_results", "model_name"}
} | {"model-index"}  # fmt: skip
REQUIRED_STR = ("license", "library_name")
REQUIRED_STR_LIST = ("tags", "datasets", "metrics")
Z_95 = 1.959963984540054  # two-sided 95% normal quantile
# As in the repository's CITATION.cff; cite the Zenodo DOI of a release instead once it has one.
CITATION = """```bibtex
@software{ml_reproducibility_examples,
  title  = {ML Reproducibility Examples: runnable, tested examples for a workshop on
            reproducibility and open science in machine learning},
  author = {{The ML Reproducibility Examples authors}},
  url    = {https://github.com/AaltoSciComp/ml-reproducibility-examples}
}
```"""
CITATION_APA = (
    "The ML Reproducibility Examples authors. ML Reproducibility Examples [Computer software]. "
    "https://github.com/AaltoSciComp/ml-reproducibility-examples"
)


def read_run(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "run.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ShareError(f"{path} not found: the card is written from the run receipt") from exc
    except json.JSONDecodeError as exc:
        raise ShareError(f"{path} is not valid JSON ({exc})") from exc


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for a proportion: honest at small n and near 0 or 1."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def accuracy_text(correct: int, n: int) -> str:
    low, high = wilson_interval(correct, n)
    return f"{correct}/{n} correct = {correct / n:.4f} (95% Wilson interval {low:.3f}-{high:.3f})"


NO_CHECKOUT = "none: trained outside a git checkout, so no commit names the code"


def provenance_table(run: dict[str, Any]) -> str:
    """Every input that shaped the weights, by value or hash, straight from run.json."""
    git = run.get("git")  # null when the code ran outside a git checkout: say so, guess nothing
    commit = f"{git['commit']} (dirty: {git['dirty']})" if git else NO_CHECKOUT
    rows = [
        ("seed", run["seed"]),
        ("config", json.dumps(run["config"], sort_keys=True)),
        ("code commit", commit),
        ("uv.lock sha256", run.get("lock_sha256")),
        ("data sha256", run.get("data_sha256")),
        ("weights sha256", run.get("weights_sha256")),
        ("command", " ".join(run.get("command", []))),
        ("seconds", run.get("seconds")),
    ]
    table = "\n".join(f"| {k} | `{v}` |" for k, v in rows)
    return (
        "Provenance, written from `run.json` (shipped in this repo): re-run the command with "
        "the same `uv.lock` and seed and compare `weights sha256`.\n\n"
        f"| what | value |\n| --- | --- |\n{table}"
    )


def write_card(card: ModelCard, folder: Path) -> Path:
    """Save atomically so a crash never leaves half a README.md; then validate what was written."""
    path = Path(folder) / "README.md"
    tmp = path.with_name(".README.md.tmp")
    card.save(tmp)
    tmp.replace(path)
    validate_card(path)
    return path


def write_classifier_card(folder: Path, repo_id: str = "your-name/digits-mlp") -> Path:
    run = read_run(folder)
    if not {"test_correct", "test_n"} <= set(run.get("metrics", {})):
        raise ShareError(f"{folder}/run.json has no test_correct/test_n: re-run ms-train")
    correct, n = run["metrics"]["test_correct"], run["metrics"]["test_n"]
    data = ModelCardData(
        model_name="digits-mlp",
        license="mit",
        library_name="pytorch",
        # No pipeline_tag: the model takes 64 floats, not an image file, so "image-classification"
        # would promise a widget and a pipeline that cannot feed it.
        tags=["digits", "tabular-classification", "pytorch_model_hub_mixin"],
        datasets=["scikit-learn/digits"],
        metrics=["accuracy"],
        eval_results=[
            EvalResult(
                task_type="tabular-classification",
                task_name="digit classification from 64 pixel features",
                dataset_type="scikit-learn/digits",
                dataset_name="scikit-learn digits",
                dataset_split=f"test ({n} images, stratified 25%, split seed {run['seed']})",
                metric_type="accuracy",
                metric_value=round(correct / n, 4),
            )
        ],
    )
    card = ModelCard.from_template(
        data,
        model_id="digits-mlp",
        model_summary="A two-layer MLP that classifies 8x8 handwritten digits, shared as an "
        "example of a reproducible model release.",
        developers="ML reproducibility workshop (Aalto Scientific Computing)",
        model_type="MLP, 64 -> 64 -> 10, ReLU",
        repo="https://github.com/AaltoSciComp/ml-reproducibility-examples",
        direct_use="Teaching: how to share weights, structure and provenance. Input: a float32 "
        "tensor of shape (batch, 64), the 8x8 pixels row by row, scaled to [0, 1] "
        "(scikit-learn `load_digits` / 16). Output: 10 logits, one per digit.",
        out_of_scope_use="Real-world OCR, any other image size or source, any decision about a "
        "person. Images must be preprocessed exactly as above; raw 0-255 pixels give garbage.",
        bias_risks_limitations="scikit-learn's digits are the UCI test set: 1,797 digits from "
        "13 writers, 32x32 NIST form scans reduced to 8x8 counts. The random split puts the same "
        "writers in train and test, so test accuracy overstates accuracy on a new writer; no "
        "other handwriting, scanner or resolution was tested.",
        bias_recommendations="Measure accuracy on your own data before relying on it.",
        get_started_code=how_to_load_classifier(repo_id),
        training_data="scikit-learn's bundled `load_digits` (1,797 images, 10 classes); a "
        f"stratified 75/25 split with `random_state={run['seed']}`: 1,347 train, {n} test.",
        preprocessing="Pixel values divided by 16 (the data's maximum) to lie in [0, 1].",
        training_regime=f"fp32 on CPU; Adam, config {json.dumps(run['config'], sort_keys=True)}",
        speeds_sizes_times=f"{run['seconds']} s of training and evaluation on one CPU thread; "
        f"model.safetensors {(Path(folder) / 'model.safetensors').stat().st_size:,d} bytes.",
        hardware_type="CPU (the exact model and torch's kernel choice are in run.json `env`)",
        software="PyTorch + huggingface_hub, every version locked by `uv.lock` (sha256 below).",
        testing_data=f"The {n} held-out images of the split above.",
        testing_metrics="Accuracy (fraction of test images whose arg-max logit is the label), "
        "with a 95% Wilson score interval for the proportion.",
        results=accuracy_text(correct, n),
        citation_bibtex=CITATION,
        citation_apa=CITATION_APA,
        more_information=provenance_table(run),
        model_card_authors="generated by `ms-card` from run.json",
    )
    return write_card(card, folder)


def how_to_load_classifier(repo_id: str) -> str:
    # A card cannot name the commit that contains it, so the reader pins the commit they cite.
    return f'''```python
from huggingface_hub import snapshot_download
from model_sharing.classifier import DigitsMLP  # the structure as code: pip install our repo

# Pin the commit you evaluated (the repo's "History" tab): "main" can change under you.
# Only safetensors and config are fetched: the mixin would fall back to a pickle otherwise.
folder = snapshot_download(
    "{repo_id}", revision="<commit sha>", allow_patterns=["config.json", "model.safetensors"]
)
model = DigitsMLP.from_pretrained(folder, local_files_only=True, strict=True)
```'''


def write_lm_card(folder: Path, repo_id: str = "your-name/tiny-gpt2") -> Path:
    run = read_run(folder)
    m = run["metrics"]
    data = ModelCardData(
        model_name="tiny-gpt2",
        license="mit",
        library_name="transformers",
        pipeline_tag="text-generation",
        language="en",
        tags=["gpt2", "reproducibility-workshop"],
        datasets=["generated-templated-sentences"],
        metrics=["perplexity"],
        eval_results=[
            EvalResult(
                task_type="text-generation",
                dataset_type="generated-templated-sentences",
                dataset_name="held-out generated sentences",
                dataset_split=f"{m['heldout_tokens']} tokens, corpus seed {run['seed']} + 10000",
                metric_type="perplexity",
                metric_value=round(m["heldout_perplexity"], 3),
            )
        ],
    )
    low, high = m["heldout_perplexity_ci95"]
    card = ModelCard.from_template(
        data,
        model_id="tiny-gpt2",
        model_summary="A 2-layer GPT-2 trained for a few hundred steps on sentences generated "
        "from a tiny seeded grammar, with its own byte-level BPE tokenizer. Weights, tokenizer, "
        "generation config and a greedy sample (`sample.json`) ship together.",
        model_type="GPT-2 decoder, 2 layers, 64-dim, 2 heads",
        direct_use="Teaching: what a complete, loadable language-model release contains. Greedy "
        "decoding of `sample.json`'s prompt must reproduce its `output_ids` exactly.",
        out_of_scope_use="Any real text: it knows only a 7x7x7x5 template grammar.",
        bias_risks_limitations="Outputs are not English beyond the template grammar. Perplexity "
        "is measured on sentences from the same grammar, so it says nothing about real text.",
        get_started_code=f'''```python
from transformers import AutoModelForCausalLM, AutoTokenizer

revision = "<commit sha>"  # pin the commit you evaluated: "main" can change under you
tok = AutoTokenizer.from_pretrained("{repo_id}", revision=revision)
model = AutoModelForCausalLM.from_pretrained("{repo_id}", revision=revision, use_safetensors=True)
ids = tok("the robot", return_tensors="pt")
print(tok.decode(model.generate(**ids)[0], skip_special_tokens=True))
```''',
        training_data=f"{run['config']['n_sentences']} sentences generated with seed "
        f"{run['seed']} from the grammar in `tiny_lm.py`.",
        training_regime=f"fp32 on CPU; AdamW, config {json.dumps(run['config'], sort_keys=True)}",
        testing_data="200 sentences generated with seed + 10000 (same grammar, other sentences), "
        f"cut into 32-token blocks: {m['heldout_tokens']} predicted tokens.",
        testing_metrics="Perplexity = exp(mean next-token cross-entropy); the 95% interval is "
        "exp(mean +- 1.96 standard errors) over the held-out blocks.",
        results=f"perplexity {m['heldout_perplexity']:.3f} over {m['heldout_tokens']} tokens "
        f"(95% interval {low:.3f}-{high:.3f})",
        citation_bibtex=CITATION,
        citation_apa=CITATION_APA,
        more_information=provenance_table(run),
        model_card_authors="generated by `ms-lm` from run.json",
    )
    return write_card(card, folder)


def validate_card(path: Path) -> dict[str, Any]:
    """Check the metadata against the card schema, offline. Returns it; raises ShareError."""
    path = Path(path)
    if not path.is_file():
        raise ShareError(f"{path} not found")
    try:
        meta = metadata_load(path)
    except Exception as exc:  # yaml raises several error types
        raise ShareError(f"{path}: YAML metadata does not parse ({exc})") from exc
    if not meta:
        raise ShareError(f"{path} has no YAML metadata block")
    problems = [
        f"unknown metadata key {k!r}"
        + "".join(f" (did you mean {m!r}?)" for m in difflib.get_close_matches(k, SCHEMA_KEYS, 1))
        for k in meta
        if k not in SCHEMA_KEYS
    ]
    problems += [
        f"{k} must be a non-empty string" for k in REQUIRED_STR if not _is_str(meta.get(k))
    ]
    problems += [
        f"{k} must be a non-empty list of strings"
        for k in REQUIRED_STR_LIST
        if not (isinstance(meta.get(k), list) and meta[k] and all(_is_str(v) for v in meta[k]))
    ]
    try:
        results = ModelCard.load(path).data.eval_results or []
    except Exception as exc:  # the parser raises several types on a malformed model-index
        raise ShareError(f"{path}: model-index does not parse ({exc})") from exc
    if not results:
        problems.append("model-index must hold at least one evaluation result")
    problems += [
        f"metric {r.metric_type} must be a number, got {r.metric_value!r}"
        for r in results
        if not isinstance(r.metric_value, Real) or isinstance(r.metric_value, bool)
    ]
    if problems:
        raise ShareError(f"{path}: " + "; ".join(problems))
    return meta


def card_metric(path: Path, metric_type: str) -> float:
    """The value the card reports for `metric_type`, read back through huggingface_hub."""
    for r in ModelCard.load(path).data.eval_results or []:
        if r.metric_type == metric_type:
            return r.metric_value
    raise ShareError(f"{path} reports no {metric_type}")


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder written by ms-train (holds run.json)")
    args = p.parse_args(argv)
    path = write_classifier_card(args.folder)
    meta = validate_card(path)
    print(f"{path}: valid; license={meta['license']} library_name={meta['library_name']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
