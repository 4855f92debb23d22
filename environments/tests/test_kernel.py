"""The topic's environment as a Jupyter kernel, as on the workshop's JupyterHub: the README's
one command writes a kernelspec, and a notebook run with that kernel uses this interpreter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from conftest import KERNEL_COMMAND, TOPIC
from nbclient import NotebookClient


def test_readme_documents_the_command():
    assert KERNEL_COMMAND in (TOPIC / "README.md").read_text()


def test_kernel_names_this_interpreter_and_runs(topic_kernel):
    spec = json.loads((topic_kernel / "kernels" / "environments" / "kernel.json").read_text())
    assert Path(spec["argv"][0]) == Path(sys.executable)
    assert spec["display_name"] == "environments (uv)"

    code = "import sys, environments.envinfo\nprint(sys.executable)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="environments", timeout=120).execute()
    assert Path(nb.cells[0].outputs[0]["text"].strip()) == Path(sys.executable)
