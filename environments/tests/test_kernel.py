"""The topic's environment as a Jupyter kernel, as on the workshop's JupyterHub: the README's
one command registers a kernel that runs *this topic's* locked environment."""

from __future__ import annotations

import tomllib

import nbformat
from conftest import KERNEL_COMMAND, TOPIC
from nbclient import NotebookClient


def test_readme_documents_the_command():
    assert KERNEL_COMMAND in (TOPIC / "README.md").read_text()


def test_kernel_runs_this_topics_locked_environment(topic_kernel):
    """A notebook on kernel "environments" imports deptry, which only this topic locks, at the
    version in this topic's uv.lock: another interpreter (a cluster's python3, another topic's
    venv) fails the import or shows another version."""
    lock = tomllib.loads((TOPIC / "uv.lock").read_text())
    locked = next(p["version"] for p in lock["package"] if p["name"] == "deptry")
    code = "import importlib.metadata, deptry\nprint(importlib.metadata.version('deptry'))"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="environments", timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == locked
