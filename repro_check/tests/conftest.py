"""Shared helpers: copies of the fixture projects, and one check run without the others."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from repo_review.fixtures import apply_fixtures, collect_fixtures, compute_fixtures
from repro_check.registry import CHECKS

FIXTURES = Path(__file__).parent / "fixtures"
WORKSHOP = Path(__file__).resolve().parents[2]  # the repository holding the seven topics
TOPICS = [
    "environments",
    "jupyter_reproducibility",
    "model_tracking",
    "overfitting",
    "modular_training",
    "model_sharing",
    "scaling_multi_gpu",
]


def run_check(code: str, folder: Path) -> bool | str | None:
    """One check on a folder, with the fixtures repo-review would give it: True, a message, or None."""
    fixtures = compute_fixtures(folder, folder, collect_fixtures())
    check = next(c for c in CHECKS if c.__name__ == code)
    return apply_fixtures(fixtures, check.check)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A copy of the study that passes every check, outside any git checkout."""
    return Path(shutil.copytree(FIXTURES / "good_project", tmp_path / "study"))


@pytest.fixture
def research(tmp_path: Path) -> Path:
    """A copy of the typical research repository, outside any git checkout."""
    return Path(shutil.copytree(FIXTURES / "research_repo", tmp_path / "research"))
