"""The four declarations agree, and an edited export is caught by name."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import EXAMPLE, TOPIC, copy_example, needs_uv, run_module
from environments.export import expected_exports
from environments.sync_check import check, lock_versions_and_hashes

pytestmark = needs_uv  # the stale-lock part of the check asks `uv lock --check`


def test_committed_files_are_in_sync():
    assert check(EXAMPLE) == []
    done = run_module("environments.sync_check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "in sync" in done.stdout


@pytest.mark.parametrize(
    ("export", "package", "pattern", "replacement"),
    [
        ("requirements.txt", "numpy", r"^numpy==\S+", "numpy==0.0.1"),
        ("environment.yml", "scipy", r"- scipy=\S+", "- scipy=0.0.1"),
        # pylock.toml names each file, version included: packaging.pylock refuses a version that
        # disagrees with its file names, so the edit renames them too (another joblib release).
        ("pylock.toml", "joblib", r'(joblib-|"joblib"\nversion = ")\d+(?:\.\d+)*', r"\g<1>0.0.1"),
    ],
)
def test_edited_version_is_named(tmp_path, export, package, pattern, replacement):
    project = copy_example(tmp_path / "p")
    path = project / export
    edited, n = re.subn(pattern, replacement, path.read_text(), flags=re.M)
    assert n >= 1, "the fixture edit did not apply"
    path.write_text(edited)
    problems = check(project)
    assert len(problems) == 1 and problems[0].startswith(f"{export}: {package} ")
    done = run_module("environments.sync_check", "--project", str(project))
    assert done.returncode == 1 and package in done.stdout


def test_inconsistent_pylock_is_refused_by_packaging(tmp_path):
    """A version edited by hand without its file names is not a valid PEP 751 file:
    packaging.pylock says so, and the check gives one error line naming the package's file."""
    project = copy_example(tmp_path / "p")
    path = project / "pylock.toml"
    edited, n = re.subn(
        r'"joblib"\nversion = "[^"]+"', '"joblib"\nversion = "0.0.1"', path.read_text()
    )
    assert n == 1
    path.write_text(edited)
    done = run_module("environments.sync_check", "--project", str(project))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "not a valid pylock.toml" in done.stderr and "joblib" in done.stderr


@pytest.mark.parametrize("document", ["README.md", "slides.md"])
def test_docs_show_what_the_check_prints_for_their_edit(tmp_path, document):
    """The docs' example: numpy edited to 2.4.5 in requirements.txt. Their OUT OF SYNC line is
    the one the check prints for that edit (with the numpy this lock really holds)."""
    text = (TOPIC / document).read_text()
    shown = re.search(
        r"^`?(OUT OF SYNC .*numpy is 2\.4\.5 but uv\.lock has numpy==\S+?)`?(?: |$)", text, re.M
    )
    assert shown, f"{document} no longer shows the OUT OF SYNC example"
    project = copy_example(tmp_path / "p")
    path = project / "requirements.txt"
    path.write_text(re.sub(r"^numpy==\S+", "numpy==2.4.5", path.read_text(), flags=re.M))
    done = run_module("environments.sync_check", "--project", str(project))
    assert done.returncode == 1
    assert shown[1] in done.stdout.splitlines(), done.stdout


def test_tampered_hash_is_caught(tmp_path):
    project = copy_example(tmp_path / "p")
    path = project / "requirements.txt"
    text = path.read_text()
    first_hash = re.search(r"sha256:([0-9a-f]{64})", text)[1]
    path.write_text(text.replace(first_hash, "0" * 64, 1))
    assert any("hashes" in p and "cloudpickle" in p for p in check(project))


def test_stale_lock_is_caught(tmp_path):
    project = copy_example(tmp_path / "p")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy>=2.0"', '"numpy>=2.1"'))
    assert any(p.startswith("uv.lock: stale") for p in check(project))


def test_extras_and_markers_are_understood(tmp_path):
    """Extras and markers are ordinary requirement syntax; a regex parser called these stale or
    missing. pyproject declares both (the lock records them as uv writes them, which
    `uv lock --check` accepts), and a pip-compile-style line with extras and a marker stands in
    requirements.txt: all of it agrees with the lock."""
    project = copy_example(tmp_path / "p")

    def edit(name: str, old: str, new: str) -> None:
        path = project / name
        assert path.read_text().count(old) == 1, f"the fixture edit did not apply to {name}"
        path.write_text(path.read_text().replace(old, new))

    edit(
        "pyproject.toml",
        '"numpy>=2.0", "scikit-learn>=1.6"',
        '"numpy>=2.0,<3; python_version >= \'3.11\'", "scikit-learn[install] >= 1.6"',
    )
    # What `uv lock` records for those (it rewrites python_version as python_full_version).
    edit(
        "uv.lock",
        '{ name = "numpy", specifier = ">=2.0" },\n    { name = "scikit-learn", specifier = ">=1.6" },',
        '{ name = "numpy", marker = "python_full_version >= \'3.11\'", specifier = ">=2.0,<3" },'
        '\n    { name = "scikit-learn", extras = ["install"], specifier = ">=1.6" },',
    )
    version = lock_versions_and_hashes(project)[0]["scikit-learn"]
    edit(
        "requirements.txt",
        f"\nscikit-learn=={version} \\",
        f"\nscikit-learn[install]=={version} ; python_full_version >= '3.11' \\",
    )
    assert check(project) == []
    # ... and the parser still sees the version behind the extras: a wrong one is named.
    edit("requirements.txt", "scikit-learn[install]==", "scikit-learn[install]==0.1+")
    assert any(p.startswith("requirements.txt: scikit-learn is 0.1+") for p in check(project))


def test_unpinned_requirement_is_one_error_line(tmp_path):
    project = copy_example(tmp_path / "p")
    requirements = project / "requirements.txt"
    requirements.write_text(re.sub(r"^numpy==", "numpy>=", requirements.read_text(), flags=re.M))
    done = run_module("environments.sync_check", "--project", str(project))
    assert done.returncode == 2 and "numpy" in done.stderr and "not pinned" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_export_is_one_error_line(tmp_path):
    project = copy_example(tmp_path / "p")
    (project / "environment.yml").unlink()
    done = run_module("environments.sync_check", "--project", str(project))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


def test_forked_lock_is_one_error_line(tmp_path):
    """Two versions of one package in uv.lock cannot be exported as one pin: say so, exit 2."""
    project = copy_example(tmp_path / "p")
    lock = project / "uv.lock"
    lock.write_text(lock.read_text() + '\n[[package]]\nname = "numpy"\nversion = "1.26.4"\n')
    done = run_module("environments.sync_check", "--project", str(project))
    assert done.returncode == 2 and "several versions of numpy" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@needs_uv
def test_exports_regenerate_identically():
    """The committed exports are exactly what `env-export` writes from the committed lock."""
    for name, text in expected_exports(EXAMPLE).items():
        assert (EXAMPLE / name).read_text() == text, f"{name} differs: run `uv run env-export`"


@needs_uv
def test_nested_lock_is_fresh():
    """The root's lock check covers topics only; the example project's own lock is checked here."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV"}}
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never")
    uv = shutil.which("uv")
    done = subprocess.run(
        [uv, "lock", "--check"], cwd=EXAMPLE, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@needs_uv
def test_pylock_export_installs_the_locked_versions(tmp_path):
    """The PEP 751 export is not just text: uv installs from it (offline, from the cache that
    syncing this topic filled), and requirements.txt then finds nothing left to change."""
    uv = shutil.which("uv")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV"}}
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never")
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")

    def uv_run(*args: str) -> str:
        done = subprocess.run([uv, *args], cwd=EXAMPLE, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stderr

    uv_run("venv", str(venv), "--python", sys.executable, "--quiet")
    uv_run("pip", "install", "--python", python, "-r", "pylock.toml")
    again = uv_run("pip", "install", "--python", python, "-r", "requirements.txt")
    assert "Installed" not in again  # the pip export describes exactly what pylock installed
    code = "import numpy, sklearn; print(numpy.__version__, sklearn.__version__)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    locked = lock_versions_and_hashes(EXAMPLE)[0]
    assert out.split() == [locked["numpy"], locked["scikit-learn"]]
