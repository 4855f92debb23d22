"""Model card from the Hub's own template, filled from the run receipt.

A card (Mitchell et al., 2018) says what the model is for, what it is not for, what it was
trained on, how well it did and how sure we are of that. `ModelCard.from_template` gives the
Hub's standard sections (uses, out-of-scope use, bias/risks/limitations, training data,
evaluation, citation, ...); we fill them, and the numbers come FROM run.json, so nobody copies a
metric by hand. An accuracy is reported as a count out of n with a 95% interval: "438/450" says
how much evidence there is, "0.9733333587646484" only says float32 was involved.

The Hub validates card metadata online (`ModelCard.validate` needs the network); offline we
check the YAML keys against the fields `ModelCardData` knows and their types (`validate_card`).

The language model's card, written the same way, is in `tiny_lm.py`.

Run: `uv run ms-card outputs/digits-mlp` (rewrite and validate the card of a shared folder).
"""

from __future__ import annotations

import difflib
import inspect
import json
import sys
from numbers import Real
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard import metadata_load
from scipy.stats import binomtest

from model_sharing.plumbing import (
    OneLineParser,
    ShareError,
    check_out,
    read_json,
    require_int,
    run_at_edge,
)
from model_sharing.receipt import atomic_write

# The YAML keys of a model card = the fields ModelCardData reads (eval results live under
# "model-index"). A key outside this set is ignored by the Hub: usually a typo ("licence").
SCHEMA_KEYS = {
    name for name in inspect.signature(ModelCardData.__init__).parameters if name not in {
        "self", "kwargs", "ignore_metadata_errors", "eval_results", "model_name"}
} | {"model-index"}  # fmt: skip
REQUIRED_STR = ("license", "library_name")
REQUIRED_STR_LIST = ("tags", "datasets", "metrics")
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
    """run.json, with the fields every card reads checked by type: one line if one is wrong."""
    path = Path(folder) / "run.json"
    run = read_json(path, "the card is written from the run receipt")
    git = run.get("git")
    if not isinstance(run.get("metrics"), dict) or not isinstance(run.get("config"), dict):
        raise ShareError(f"{path}: metrics and config must be JSON objects")
    if git is not None and not (isinstance(git, dict) and isinstance(git.get("commit"), str)):
        raise ShareError(f"{path}: git must be null or hold a commit, got {git!r}")
    if not isinstance(run.get("command", []), list):
        raise ShareError(f"{path}: command must be a list of words")
    require_int(run.get("seed"), "seed", path)
    return run


def accuracy_counts(folder: Path, run: dict[str, Any]) -> tuple[int, int]:
    """(correct, n) from run.json's metrics: n >= 1 and 0 <= correct <= n, or one clear line."""
    path, m = Path(folder) / "run.json", run["metrics"]
    if not {"test_correct", "test_n"} <= set(m):
        raise ShareError(f"{path} has no test_correct/test_n: re-run ms-train")
    n = require_int(m["test_n"], "metrics.test_n", path, low=1)
    correct = require_int(m["test_correct"], "metrics.test_correct", path)
    if correct > n:
        raise ShareError(f"{path}: test_correct {correct} > test_n {n}")
    return correct, n


def accuracy_text(correct: int, n: int) -> str:
    """The accuracy as evidence: `438/450 correct = 0.9733 (95% Wilson interval 0.954-0.985)`.

    scipy's Wilson score interval stays inside [0, 1] and is honest at small n and near 0 or 1,
    where the textbook p +- 1.96 * sqrt(p(1-p)/n) is not (it gives 1.000-1.000 for 10/10)."""
    ci = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    interval = f"95% Wilson interval {ci.low:.3f}-{ci.high:.3f}"
    return f"{correct}/{n} correct = {correct / n:.4f} ({interval})"


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
    path = atomic_write(Path(folder) / "README.md", lambda tmp: card.save(tmp))
    validate_card(path)
    return path


def write_classifier_card(folder: Path, repo_id: str = "your-name/digits-mlp") -> Path:
    run = read_run(folder)
    correct, n = accuracy_counts(folder, run)
    split_seed = require_int(run["config"].get("split_seed"), "config.split_seed", folder)
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
                dataset_split=f"test ({n} images, stratified 25%, split seed {split_seed})",
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
        f"stratified 75/25 split with `random_state={split_seed}` (the split's own seed, fixed "
        f"whatever the training seed): 1,347 train, {n} test.",
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
    p = OneLineParser(prog="ms-card", description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder written by ms-train (holds run.json)")
    args = p.parse_args(argv)
    path = write_classifier_card(check_out(args.folder, "folder"))
    meta = validate_card(path)
    print(f"{path}: valid; license={meta['license']} library_name={meta['library_name']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
