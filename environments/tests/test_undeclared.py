"""An undeclared import is reported by name; the clean project reports nothing."""

from __future__ import annotations

import pytest
from conftest import EXAMPLE, NO_NETWORK, run_module
from environments.undeclared import (
    copy_project,
    plant_undeclared_import,
    run_deptry,
    undeclared_modules,
)


def test_clean_project_reports_nothing(tmp_path):
    assert run_deptry(copy_project(EXAMPLE, tmp_path)) == []


def test_planted_imports_are_named(tmp_path):
    project = copy_project(EXAMPLE, tmp_path)
    plant_undeclared_import(project)
    findings = run_deptry(project)
    assert undeclared_modules(findings) == ["matplotlib", "scipy"]
    assert all(f["where"].startswith("src/digits_baseline/plot_confusion.py:") for f in findings)


@pytest.mark.slow
def test_demo_works_here_and_fails_from_the_lock(locked_example_env):
    """ "Works on my machine": the planted script runs in this environment, not in the locked one.

    The locked environment is built offline from uv's cache (the fixture proves the cache can
    build it, or skips saying which wheel is missing), so the demo must not skip that step."""
    done = run_module("environments.undeclared", env=NO_NETWORK)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on my machine (this environment): exit 0" in done.stdout
    assert "locked environment: skipped" not in done.stdout, done.stdout
    assert "in the environment built from uv.lock: exit 1" in done.stdout
    assert "No module named 'matplotlib'" in done.stdout
    assert "undeclared: matplotlib, scipy" in done.stdout


def test_missing_project_is_one_error_line(tmp_path):
    done = run_module("environments.undeclared", "--project", str(tmp_path / "nothere"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
