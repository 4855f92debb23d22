"""The shared receipt module works in a topic without torch: it imports, writes and compares.

This topic trains scikit-learn and numpy models only; the receipt module is the same file as in
the torch topics (a root test checks that), so it must never need torch itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "overfitting.receipt"]
LADDER = ["--submissions", "200", "--reps", "2", "--n", "1000"]


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=300)


def test_receipt_imports_and_fingerprints_without_torch():
    """`sys.modules['torch'] = None` makes any `import torch` fail, as where torch is absent."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import overfitting.receipt as r\n"
        "env = r.env_info()\n"
        "assert env['torch_threads'] is None and env['torch_cpu_capability'] is None, env\n"
        "assert env['scikit-learn'] and env['numpy'], env\n"
        "print(r.weights_sha256({'coef': [1.0, 2.0]}))\n"
    )
    done = run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 64


@pytest.fixture(scope="module")
def ladder_runs(tmp_path_factory) -> dict[str, Path]:
    """Two seeds and a repeat of the first, as a learner would run them."""
    root = tmp_path_factory.mktemp("ladder")
    runs = {"a": ("0", root / "a"), "again": ("0", root / "again"), "b": ("1", root / "b")}
    for seed, out in runs.values():
        done = run(
            [sys.executable, "-m", "overfitting.ladder", "--seed", seed, "--out", str(out), *LADDER]
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return {k: out / "run.json" for k, (_, out) in runs.items()}


def test_compare_same_seed_is_identical(ladder_runs):
    done = run([*RECEIPT, "compare", str(ladder_runs["a"]), str(ladder_runs["again"])])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("IDENTICAL")


def test_compare_other_seed_names_the_seed(ladder_runs):
    done = run([*RECEIPT, "compare", str(ladder_runs["a"]), str(ladder_runs["b"])])
    assert done.returncode == 1, done.stdout + done.stderr
    causes = done.stdout.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    assert "seed: 0 -> 1" in causes
    receipt = json.loads(ladder_runs["a"].read_text())
    assert receipt["topic"] == "overfitting" and receipt["env"]["torch"] is None
