"""The README's JupyterHub command registers this topic's environment as a kernel that runs notebooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
from nbclient import NotebookClient

NAME = "scaling_multi_gpu"


def test_kernel_install_and_run_a_notebook(tmp_path, monkeypatch):
    data = tmp_path / "jupyter"
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data)}
    # The README's command, with this interpreter instead of `uv run python`:
    cmd = [
        sys.executable,
        "-m",
        "ipykernel",
        "install",
        "--user",
        "--name",
        NAME,
        "--display-name",
        f"{NAME} (uv)",
    ]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    spec = json.loads((data / "kernels" / NAME / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and spec["display_name"] == f"{NAME} (uv)"

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    code = "import sys\nimport scaling_multi_gpu.rng_lab\nprint(sys.executable)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name=NAME, timeout=180).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
