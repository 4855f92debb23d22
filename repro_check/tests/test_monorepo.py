"""A project that is a folder of a larger git repository (like each topic of this workshop).

LICENSE, CITATION.cff and CI count where they are found above the folder, up to the top of the
git checkout; a workflow up there covers the folder only if it names it. Files git ignores are
not in the repository.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_check


@pytest.fixture
def mono(good: Path, tmp_path: Path) -> Path:
    """`mono/` (a git checkout) holding the study as `mono/study/`, with the licence and CI at the top."""
    top = tmp_path / "mono"
    top.mkdir()
    subprocess.run(["git", "init", "-q", str(top)], check=True)
    study = Path(shutil.move(good, top / "study"))
    for name in ("LICENSE", "CITATION.cff", ".github"):
        shutil.move(study / name, top / name)
    return study


def test_licence_citation_and_ci_at_the_git_root_cover_the_folder(mono: Path) -> None:
    assert run_check("RC702", mono) is True
    assert run_check("RC703", mono) is True
    workflow = mono.parent / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text().replace("pytest", "pytest study/tests"))
    assert run_check("RC705", mono) is True


def test_a_root_workflow_that_does_not_name_the_folder_does_not_count(mono: Path) -> None:
    message = run_check("RC705", mono)
    assert "above it up to the git root" in message
    (mono.parent / "LICENSE").unlink()
    assert "above it up to the git root" in run_check("RC702", mono)


def test_an_ignored_lockfile_is_not_committed(mono: Path) -> None:
    assert run_check("RC101", mono) is True
    (mono / ".gitignore").write_text("uv.lock\n")
    assert "git ignores it" in run_check("RC101", mono)
