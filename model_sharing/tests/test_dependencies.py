"""Every declared dependency is used: imported by our code, or needed by a library call we make."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

TOPIC = Path(__file__).resolve().parents[1]
IMPORT_NAME = {"scikit-learn": "sklearn", "huggingface-hub": "huggingface_hub", "pyyaml": "yaml"}
# Needed by a call we make, not imported by name: say which call.
NEEDED_BY = {
    "onnxscript": "torch.onnx.export(..., dynamo=True) translates the graph with it",
    "onnx": "the dynamo exporter builds an onnx.ModelProto; tests check it with onnx.checker",
    "jinja2": "ModelCard.from_template renders the Hub's template with Jinja2",
}


def test_every_dependency_is_imported_or_needed_by_a_call_we_make():
    deps = tomllib.loads((TOPIC / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in deps]
    code = "\n".join(p.read_text() for p in (TOPIC / "src").rglob("*.py"))
    unused = [
        n
        for n in names
        if n not in NEEDED_BY
        and not re.search(rf"^\s*(import|from) {IMPORT_NAME.get(n, n)}\b", code, re.MULTILINE)
    ]
    assert unused == [], f"declared but never imported: {unused}"
    assert set(NEEDED_BY) <= set(names)
