"""The topic's environment as a Jupyter kernel, as on the workshop's JupyterHub: the README's
one command writes a kernelspec, and a notebook run with that kernel uses this interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
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


def test_kernel_names_this_interpreter_and_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))  # not the user's own folder
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    install = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", NAME]
    done = subprocess.run(
        [*install, "--display-name", f"{NAME} (uv)"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    spec = json.loads((tmp_path / "kernels" / NAME / "kernel.json").read_text())
    assert Path(spec["argv"][0]) == Path(sys.executable)
    assert spec["display_name"] == f"{NAME} (uv)"

    code = "import sys\nimport jupyter_reproducibility.nbcheck\nprint(sys.executable)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name=NAME, timeout=120).execute()
    assert Path(nb.cells[0].outputs[0]["text"].strip()) == Path(sys.executable)
