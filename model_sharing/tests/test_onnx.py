"""ONNX + onnxruntime agree with PyTorch within the stated tolerance and predict the same classes.

The export is torch's current exporter (dynamo=True) with a symbolic batch dimension.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from model_sharing.classifier import load_classifier
from model_sharing.onnx_export import ATOL, RTOL, compare, onnx_logits

from model_sharing import onnx_export

TOPIC = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(digits_folder, tmp_path_factory):
    """One export, by the command a learner runs: `ms-onnx --from FOLDER --out OUT`."""
    out = tmp_path_factory.mktemp("onnx") / "digits-onnx"
    assert onnx_export.main(["--from", str(digits_folder), "--out", str(out)]) == 0
    return load_classifier(digits_folder), out / "model.onnx"


def test_onnx_matches_pytorch_within_tolerance(exported, split):
    model, path = exported
    onnx.checker.check_model(onnx.load(str(path)))
    result = compare(model, path, split.x_test)  # 450 rows through a 2-row example export
    assert result["within_tolerance"], result
    assert result["same_predictions"]
    assert result["max_abs_diff"] <= ATOL


def test_batch_dimension_is_symbolic(exported, split):
    _, path = exported
    (pixels,) = onnx.load(str(path)).graph.input
    batch, features = pixels.type.tensor_type.shape.dim
    assert batch.dim_param and not batch.dim_value, "batch size was frozen into the graph"
    assert features.dim_value == 64
    for n in (1, 7, 450):
        assert onnx_logits(path, split.x_test[:n].numpy()).shape == (n, 10)


def test_tolerance_check_can_fail(exported, split):
    model, path = exported
    changed = type(model)()
    changed.load_state_dict(model.state_dict())
    with torch.no_grad():
        changed.net[2].bias += 1e-2  # a real change must be caught
    assert not compare(changed, path, split.x_test)["within_tolerance"]
    assert np.isfinite(onnx_logits(path, split.x_test[:2].numpy())).all()


def test_docs_state_the_tolerance_the_code_checks():
    assert ATOL == RTOL
    for doc in ("README.md", "slides.md"):
        stated = re.findall(r"atol = rtol = ([0-9.e-]+)", (TOPIC / doc).read_text())
        assert stated and all(float(v) == ATOL for v in stated), (doc, stated)
