"""Every import a project's code makes is declared in its pyproject.toml (checked by deptry).

An import that works only because another package pulled it in breaks the day that package
drops it, and a learner who copies one topic folder gets the failure. deptry (the version the
environments topic locks) maps imports to packages with the checked project's own environment
on its path.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from checks import check_declared_imports, locked_versions
from runner import topic_env


def site_packages(project: Path) -> str:
    """The purelib folder of the project's locked environment (synced first if needed)."""
    done = subprocess.run(
        [
            "uv",
            "run",
            "--locked",
            "--quiet",
            "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        cwd=project,
        env=topic_env("off", False, project / ".unused"),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def deptry_command(repo: Path) -> list[str]:
    """deptry at the version the environments topic locks (it teaches it), in uv's tool cache:
    no project environment has to be synced for it."""
    (version,) = locked_versions(repo / "environments" / "uv.lock")["deptry"]
    return ["uvx", "--quiet", "--from", f"deptry=={version}", "deptry"]


def test_imports_are_declared(topic: str, repo: Path, request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--env") == "current":
        pytest.skip("deptry reads each project's own locked environment (--env=uv)")
    if not (repo / topic / "src").is_dir():
        pytest.skip(f"{topic} has no src/ folder")
    problems = check_declared_imports(
        repo / topic, deptry_command(repo), site_packages(repo / topic)
    )
    assert not problems, "\n".join(problems)


def test_a_planted_undeclared_import_is_named(tmp_path: Path, repo: Path) -> None:
    project = tmp_path / "planted"
    (project / "src" / "planted").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent("""
        [project]
        name = "planted"
        version = "0"
        dependencies = ["numpy"]
        """)
    )
    code = project / "src" / "planted" / "report.py"
    code.write_text("import numpy\n")
    assert check_declared_imports(project, deptry_command(repo)) == []
    code.write_text("import numpy\nimport yaml  # declared nowhere\n")
    problems = check_declared_imports(project, deptry_command(repo))
    assert len(problems) == 1, problems
    assert problems[0].startswith("planted/src/planted/report.py:2: DEP00"), problems
    assert "'yaml'" in problems[0], problems
