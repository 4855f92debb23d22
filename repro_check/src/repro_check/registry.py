"""The repo_review.checks entry point: every check of repro-check, by code."""

from __future__ import annotations

from repro_check import (
    checks_code,
    checks_env,
    checks_imports,
    checks_publish,
    checks_runs,
    checks_share,
)

CHECKS = [
    checks_env.RC101,
    checks_env.RC102,
    checks_env.RC103,
    checks_env.RC104,
    checks_imports.RC105,
    checks_code.RC201,
    checks_code.RC202,
    checks_code.RC301,
    checks_code.RC302,
    checks_code.RC401,
    checks_runs.RC501,
    checks_runs.RC502,
    checks_share.RC601,
    checks_share.RC602,
    checks_share.RC603,
    checks_publish.RC701,
    checks_publish.RC702,
    checks_publish.RC703,
    checks_publish.RC704,
    checks_publish.RC705,
]


def repro_checks() -> dict[str, object]:
    """One instance per check; fixtures are passed to each check's own `check` method."""
    return {cls.__name__: cls() for cls in CHECKS}
