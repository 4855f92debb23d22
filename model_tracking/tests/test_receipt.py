"""`receipt verify` re-runs each kind of run.json this topic writes and gets the same bits.

The tracking-train receipt is the session's CLI run (conftest's `cli_run`, every tracker at
once); tracking-sklearn's is a command-line run here. Each costs one re-run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "model_tracking.receipt"]


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=900)


@pytest.mark.verifies("tracking-train")
def test_verify_reruns_the_cli_run_and_says_match(cli_run):
    done = run([*RECEIPT, "verify", str(cli_run["out"] / "run.json")])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]


@pytest.mark.verifies("tracking-sklearn")
def test_verify_reruns_a_grid_search_receipt_and_says_match(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["--tracking-uri", uri, "--out", str(tmp_path / "a")]
    done = run([sys.executable, "-m", "model_tracking.sklearn_autolog", *argv])
    assert done.returncode == 0, done.stderr[-2000:]
    receipt = tmp_path / "a" / "run.json"
    assert json.loads(receipt.read_text())["out"] == str(tmp_path / "a")
    done = run([*RECEIPT, "verify", str(receipt)])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]
