"""The topic's environment as a Jupyter kernel, as on the workshop's JupyterHub: the README's
one command writes a kernelspec, and a notebook run with that kernel uses this interpreter."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
from conftest import TOPIC
from nbclient import NotebookClient

NAME = "jupyter_reproducibility"
KERNEL_COMMAND = (
    f'uv run python -m ipykernel install --user --name {NAME} --display-name "{NAME} (uv)"'
)


def test_readme_documents_the_command() -> None:
    assert KERNEL_COMMAND in (TOPIC / "README.md").read_text(encoding="utf-8")


def test_kernel_runs_this_topics_locked_environment(tmp_path: Path, monkeypatch) -> None:
    """The README's command, run into a temporary Jupyter folder; a notebook on that kernel
    imports papermill, which only this topic locks, at the version in this topic's uv.lock:
    another interpreter (a cluster's python3, another topic's venv) fails or shows another."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))  # not the user's own folder
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    install = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", NAME]
    done = subprocess.run(
        [*install, "--display-name", f"{NAME} (uv)"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lock = tomllib.loads((TOPIC / "uv.lock").read_text(encoding="utf-8"))
    locked = next(p["version"] for p in lock["package"] if p["name"] == "papermill")
    code = "import importlib.metadata, papermill\nprint(importlib.metadata.version('papermill'))"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name=NAME, timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == locked
