"""The README's one command registers this topic's environment as a Jupyter kernel that runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import needs_loopback
from nbclient import NotebookClient

TOPIC = Path(__file__).resolve().parents[1]
NAME = "model_sharing"


@needs_loopback
def test_readme_command_installs_a_kernel_that_runs_this_environment(tmp_path, monkeypatch):
    command = (
        f'uv run python -m ipykernel install --user --name {NAME} --display-name "{NAME} (uv)"'
    )
    assert command in (TOPIC / "README.md").read_text()
    data = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    install = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", NAME]
    subprocess.run([*install, "--display-name", f"{NAME} (uv)"], check=True, capture_output=True)
    spec = json.loads((data / "kernels" / NAME / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and spec["display_name"] == f"{NAME} (uv)"

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, model_sharing\nprint(sys.executable)")]
    )
    NotebookClient(nb, kernel_name=NAME, timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
