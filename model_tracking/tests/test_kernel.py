"""The README's JupyterHub command registers this topic's environment as a kernel.

The kernel is installed once per session (`topic_kernel` in conftest.py); the three notebooks
run on it in test_notebooks.py, each printing the interpreter it ran on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TOPIC = Path(__file__).resolve().parents[1]


def test_the_documented_kernel_runs_this_environments_python(topic_kernel):
    readme = " ".join((TOPIC / "README.md").read_text().split())
    assert "uv run python -m ipykernel install --user --name model_tracking" in readme
    argv = json.loads((topic_kernel / "kernel.json").read_text())["argv"]
    assert argv[0] == sys.executable  # this environment, not whatever python is on PATH
