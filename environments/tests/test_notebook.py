"""The notebook runs top to bottom (in a temp folder) and shows what it claims."""

from __future__ import annotations

import re
import shutil

import nbformat
import numpy
import pytest
from conftest import EXAMPLE, TOPIC
from environments.sync_check import lock_versions_and_hashes
from nbclient import NotebookClient

NOTEBOOK = TOPIC / "notebooks" / "01-environment_reproducibility.ipynb"


@pytest.mark.skipif(shutil.which("uv") is None, reason="the drift section drives uv")
def test_notebook_executes(tmp_path, topic_kernel):
    """Run under the topic's own kernel, the one the README registers for JupyterHub."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="environments", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "problems: []" in text
    assert "requirements.txt: numpy is 2.4.5" in text
    assert "1.1.0" in text and "2.138" in text
    assert "undeclared: ['matplotlib', 'scipy']" in text
    assert re.search(r"numeric_env.OMP_NUM_THREADS: .* -> 8", text)
    assert "identical records differ in 0 places" in text
    # 5. uv tree draws the lock's tree; uv pip list reads this environment.
    locked = lock_versions_and_hashes(EXAMPLE)[0]
    assert f"digits-baseline v0.1.0\n├── numpy v{locked['numpy']}" in text
    assert f"└── scikit-learn v{locked['scikit-learn']}" in text
    assert re.search(rf"^numpy +{re.escape(numpy.__version__)}$", text, re.M)
    # 6. our recipes pass; the unpinned counter-example is named by our check (and hadolint's).
    assert re.search(r"^Dockerfile +ok$", text, re.M)
    assert "recipe check: base image 'python:3' is not pinned" in text
    if shutil.which("hadolint"):
        assert "DL3013" in text


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
