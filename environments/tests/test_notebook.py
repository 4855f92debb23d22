"""The notebook runs top to bottom (in a temp folder) and shows what it claims."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat
import numpy
import pytest
from conftest import EXAMPLE, TOPIC
from environments.sync_check import lock_versions_and_hashes
from nbclient import NotebookClient

NOTEBOOK = TOPIC / "notebooks" / "01-environment_reproducibility.ipynb"


@pytest.mark.skipif(shutil.which("uv") is None, reason="the drift section drives uv")
def test_notebook_executes(tmp_path, topic_kernel):
    """Run under the topic's own kernel, the one the README registers for JupyterHub."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="environments", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    # 1. the real commands: a current lock passes `uv lock --check`, `uv sync --locked` builds
    # from it; a dependency added without locking makes both refuse; the edited export is named.
    assert "$ uv lock --check --offline" in text and "$ uv export --format requirements.txt" in text
    assert re.search(r"^ \+ numpy==" + re.escape(locked_numpy()), text, re.M)
    assert text.count("The lockfile at `uv.lock` needs to be updated") == 2
    assert "requirements.txt: numpy is 2.4.5" in text
    # 2. drift: the lock keeps 1.0.0, the unpinned install gets 1.1.0 and another number.
    assert "1.0.0 2.0" in text and "1.1.0 2.138" in text
    assert "Updated tinystats v1.0.0 -> v1.1.0" in text
    # 3. deptry is clean on the project, names both planted imports; the locked env lacks one.
    assert "Success! No dependency issues found." in text
    assert "DEP003 'matplotlib'" in text and "DEP003 'scipy'" in text
    assert "ModuleNotFoundError: No module named 'matplotlib'" in text
    # 4. env-diff names the thread variable, and nothing for identical records.
    assert re.search(r"numeric_env.OMP_NUM_THREADS: \(unset\) -> 8", text)
    assert "no differences" in text
    # 5. uv tree draws the lock's tree; uv pip list reads this environment.
    locked = lock_versions_and_hashes(EXAMPLE)[0]
    assert f"digits-baseline v0.1.0\n├── numpy v{locked['numpy']}" in text
    assert f"└── scikit-learn v{locked['scikit-learn']}" in text
    assert re.search(rf"^numpy +{re.escape(numpy.__version__)}$", text, re.M)
    # 6. our recipes pass; the unpinned counter-example is named by our check (and hadolint's).
    assert re.search(r"^ok +Dockerfile$", text, re.M)
    assert "- does not copy uv.lock" in text
    if (Path(sys.executable).parent / "hadolint").exists():
        assert "DL3013" in text


def locked_numpy() -> str:
    return lock_versions_and_hashes(EXAMPLE)[0]["numpy"]


def test_notebook_runs_the_commands_not_wrappers():
    """The lesson is the command: the cells call uv and deptry, not this topic's wrappers."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for command in (
        '"uv", "lock", "--check"',
        '"uv", "sync", "--locked"',
        '"uv", "export"',
        '"deptry", "."',
    ):
        assert command in source, command
    for wrapper in ("run_drift_demo(", "check(", "run_deptry(", "diff_records("):
        assert wrapper not in source, wrapper


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
