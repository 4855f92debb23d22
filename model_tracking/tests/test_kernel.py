"""The README's JupyterHub command registers this topic's environment as a kernel that runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TOPIC = Path(__file__).resolve().parents[1]


def test_kernel_install_and_a_notebook_runs_on_it(tmp_path, monkeypatch):
    readme = (TOPIC / "README.md").read_text()
    documented = "uv run python -m ipykernel install --user --name model_tracking"
    assert documented in readme
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    command = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", "model_tracking",
               "--display-name", "model_tracking (uv)"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    kernel_json = tmp_path / "kernels" / "model_tracking" / "kernel.json"
    argv = json.loads(kernel_json.read_text())["argv"]
    assert argv[0] == sys.executable  # this environment, not whatever python is on PATH

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell("import sys, model_tracking\nprint(sys.executable)")
    )
    NotebookClient(notebook, kernel_name="model_tracking", timeout=180).execute()
    printed = notebook.cells[0].outputs[0]["text"].strip()
    assert printed == sys.executable
