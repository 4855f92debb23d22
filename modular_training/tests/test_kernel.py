"""The topic's environment as a Jupyter kernel, as on the workshop's JupyterHub: the README's one
command writes a kernelspec, and a notebook run with that kernel uses this topic's interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import TOPIC
from nbclient import NotebookClient

NAME = "modular_training"


def test_kernel_install_and_run(tmp_path, monkeypatch):
    command = (
        f'uv run python -m ipykernel install --user --name {NAME} --display-name "{NAME} (uv)"'
    )
    assert command in (TOPIC / "README.md").read_text()
    data = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    install = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", NAME]
    done = subprocess.run(
        [*install, "--display-name", f"{NAME} (uv)"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    spec = json.loads((data / "kernels" / NAME / "kernel.json").read_text())
    assert Path(spec["argv"][0]) == Path(sys.executable)
    assert spec["display_name"] == f"{NAME} (uv)"

    # The package import is light (no torch): the check is about the interpreter, not training.
    code = "import sys, modular_training\nprint(sys.executable)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name=NAME, timeout=120).execute()
    printed = nb.cells[0].outputs[0]["text"].strip()
    assert Path(printed) == Path(sys.executable)
