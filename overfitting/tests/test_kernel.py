"""The topic's environment as a Jupyter kernel, as on the workshop's JupyterHub: the README's
one command registers a kernel that runs *this topic's* locked environment."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TOPIC = Path(__file__).resolve().parents[1]
KERNEL_COMMAND = (
    'uv run python -m ipykernel install --user --name overfitting --display-name "overfitting (uv)"'
)
# Only this topic's environment has the package `overfitting` installed (its metadata, not just
# its source on a path); the libraries are the ones its lessons' numbers depend on.
CHECKED = ("overfitting", "scikit-learn", "numpy", "scipy", "matplotlib")


def test_readme_documents_the_command():
    assert KERNEL_COMMAND in (TOPIC / "README.md").read_text()


def test_kernel_runs_this_topics_locked_environment(tmp_path, monkeypatch):
    """The README's command, run into a temporary Jupyter data folder (not the user's); then a
    notebook on kernel "overfitting" prints the installed versions of this topic's package and
    libraries, each of which must be a version this topic's uv.lock holds for it. Another interpreter (a
    cluster's python3, another topic's venv) fails to find the package `overfitting`
    (PackageNotFoundError: the tests put its source on PYTHONPATH, never its metadata) or shows
    other versions."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    install = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", "overfitting"]
    done = subprocess.run(
        [*install, "--display-name", "overfitting (uv)"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lock = tomllib.loads((TOPIC / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}  # a lock may hold two versions, one per Python range
    for package in lock["package"]:
        if package["name"] in CHECKED:
            locked.setdefault(package["name"], set()).add(package["version"])
    assert set(locked) == set(CHECKED)
    code = (
        "import importlib.metadata, json\n"
        f"print(json.dumps({{n: importlib.metadata.version(n) for n in {CHECKED!r}}}))"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="overfitting", timeout=120).execute()
    running = json.loads(nb.cells[0].outputs[0]["text"])
    assert {n: v for n, v in running.items() if v not in locked[n]} == {}, (running, locked)
