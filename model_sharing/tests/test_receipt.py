"""A shared model folder carries its receipt, and the receipt's `compare` reads the folder's weights.

Someone who downloads the folder and retrains it can tell "same bits", "another machine" and
"another run" apart with the same command the other topics use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "model_sharing.receipt"]


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shared")
    runs = {"a": ["--seed", "0"], "b": ["--seed", "1"]}
    for name, args in runs.items():
        done = run(
            [sys.executable, "-m", "model_sharing.classifier", *args, "--out", str(root / name)]
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return {name: root / name for name in runs}


def test_the_receipt_names_the_weights_file_of_the_folder(folders):
    receipt = json.loads((folders["a"] / "run.json").read_text())
    assert receipt["topic"] == "model_sharing"
    assert (folders["a"] / receipt["weights_file"]).is_file()
    assert receipt["weights_file"].endswith(".safetensors")


def test_compare_reads_both_folders_weights_and_names_the_seed(folders):
    done = run(
        [*RECEIPT, "compare", str(folders["a"] / "run.json"), str(folders["b"] / "run.json")]
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("DIFFERENT: weights_sha256 differ; max |Δw| = ")
    causes = done.stdout.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    assert "seed: 0 -> 1" in causes


@pytest.mark.verifies("ms-train")
def test_verify_retrains_the_shared_folder_bit_for_bit(folders):
    done = run([*RECEIPT, "verify", str(folders["a"] / "run.json")])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MATCH" in done.stdout


@pytest.mark.verifies("ms-lm")
def test_verify_retrains_a_tiny_lm_folder_bit_for_bit(tmp_path):
    out = tmp_path / "lm"
    done = run([sys.executable, "-m", "model_sharing.tiny_lm", "--steps", "3", "--out", str(out)])
    assert done.returncode == 0, done.stderr[-2000:]
    done = run([*RECEIPT, "verify", str(out / "run.json")])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]
