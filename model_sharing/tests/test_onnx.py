"""ONNX + onnxruntime agree with PyTorch within the stated tolerance and predict the same classes."""

from __future__ import annotations

import numpy as np
import onnx
from model_sharing.classifier import load_classifier
from model_sharing.onnx_export import ATOL, RTOL, compare, export_onnx, onnx_logits


def test_onnx_matches_pytorch_within_tolerance(digits_folder, split, tmp_path):
    model = load_classifier(digits_folder)
    path = export_onnx(model, split.x_test[:1], tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    result = compare(model, path, split.x_test)  # dynamic batch: 450 rows through a 1-row export
    assert result["within_tolerance"], result
    assert result["same_predictions"]
    assert result["max_abs_diff"] <= ATOL
    assert ATOL <= 1e-4 and RTOL <= 1e-4  # the tolerance the README and slides state


def test_tolerance_check_can_fail(digits_folder, split, tmp_path):
    model = load_classifier(digits_folder)
    path = export_onnx(model, split.x_test[:1], tmp_path / "m.onnx")
    with __import__("torch").no_grad():
        model.net[2].bias += 1e-2  # a real change must be caught
    assert not compare(model, path, split.x_test)["within_tolerance"]
    assert np.isfinite(onnx_logits(path, split.x_test[:2].numpy())).all()
