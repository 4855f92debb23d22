"""Tracking: every training run leaves a receipt, and committed receipts are valid.

Where a project carries this workshop's receipt module (`<package>/receipt.py`), each committed
example receipt is checked with `python -m <package>.receipt validate` (a full `verify` re-runs
training, too slow for a review).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from repro_check.checks_code import TRACKING, code, training_files, where
from repro_check.fixtures import project_dir
from repro_check.lessons import lesson_url, problem

FAMILY = "rc-tracking"


class Tracking:
    family = FAMILY
    url = lesson_url(FAMILY)
    requires: set[str] = set()


class RC501(Tracking):
    "Runs leave a receipt: a run.json-like record, or MLflow / W&B / TensorBoard logging"

    @staticmethod
    def check(texts: dict[str, str], receipts: dict[str, Any]) -> bool | str | None:
        trains = training_files(texts)
        if not trains:
            return None
        # The workshop's receipt module only offers write_run_json: a run leaves a receipt where
        # some other code calls it (or writes run.json, or logs to a tracker).
        callers = {n: t for n, t in code(texts).items() if not n.endswith("receipt.py")}
        if receipts or any(TRACKING.search(t) for t in callers.values()):
            return True
        what = f"Training code ({where(trains)}) records nothing about its runs: no run.json, no MLflow, W&B or TensorBoard."
        why = "a number without its seed, config, commit and environment cannot be traced back or rerun."
        return problem(what, why, FAMILY)


def receipt_modules(repo_files: list[str]) -> list[str]:
    """Packages that carry this workshop's receipt module (`src/<package>/receipt.py`)."""
    return sorted(
        Path(n).parts[1]
        for n in repo_files
        if len(Path(n).parts) == 3 and n.startswith("src/") and n.endswith("/receipt.py")
    )


def interpreter(folder: Path) -> str:
    """The project's own Python where it has one; the receipt module needs only the standard library."""
    for candidate in (folder / ".venv/bin/python", folder / ".venv/Scripts/python.exe"):
        if candidate.is_file():
            return str(candidate)
    return sys.executable


class RC502(Tracking):
    "Committed example receipts pass this workshop's `python -m <package>.receipt validate`"

    @staticmethod
    def check(
        package: Any, repo_files: list[str], receipts: dict[str, Any], texts: dict[str, str]
    ) -> bool | str | None:
        folder = project_dir(package)
        modules = receipt_modules(repo_files)
        if folder is None or not modules or not receipts:
            return None
        module = next(
            (
                m
                for m in modules  # validate lives in receipt_tools.py (older copies: receipt.py)
                if any(
                    "def validate_receipt" in texts.get(f"src/{m}/{name}.py", "")
                    for name in ("receipt_tools", "receipt")
                )
            ),
            None,
        )
        if module is None:
            return None
        env = {**os.environ, "PYTHONPATH": str(folder / "src")}
        failed = []
        for name in receipts:
            cmd = [interpreter(folder), "-m", f"{module}.receipt", "validate", name]
            done = subprocess.run(
                cmd, cwd=folder, capture_output=True, text=True, timeout=120, env=env
            )
            if done.returncode != 0:
                failed.append(f"{name}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        if not failed:
            return True
        what = "Committed receipts that do not validate:\n" + "\n".join(f"- {f}" for f in failed)
        why = (
            "a receipt missing its command, seed, lock or weights hash cannot be rerun or compared."
        )
        return problem(what, why, FAMILY)
