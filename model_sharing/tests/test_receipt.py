"""A shared model folder carries its receipt, and the receipt's `compare` reads the folder's weights.

Someone who downloads the folder and retrains it can tell "same bits", "another machine" and
"another run" apart with the same command the other topics use.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_as_console_script
from model_sharing.receipt_tools import main as receipt_main

TOPIC = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folders(digits_folder, seed1_folder) -> dict[str, Path]:
    """Two `ms-train` runs (seeds 0 and 1), shared with the other tests."""
    return {"a": digits_folder, "b": seed1_folder}


def test_the_receipt_names_the_weights_file_of_the_folder(folders):
    receipt = json.loads((folders["a"] / "run.json").read_text())
    assert receipt["topic"] == "model_sharing"
    assert receipt["command"][0] == "ms-train"
    assert (folders["a"] / receipt["weights_file"]).is_file()
    assert receipt["weights_file"].endswith(".safetensors")


def test_compare_reads_both_folders_weights_and_names_the_seed(folders, capsys):
    code = receipt_main(["compare", str(folders["a"] / "run.json"), str(folders["b"] / "run.json")])
    out = capsys.readouterr().out
    assert code == 1, out
    assert out.startswith("DIFFERENT: weights_sha256 differ; max |Δw| = ")
    causes = out.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    assert "seed: 0 -> 1" in causes


@pytest.mark.verifies("ms-train")
def test_verify_retrains_the_shared_folder_bit_for_bit(folders, capsys, monkeypatch):
    monkeypatch.chdir(TOPIC)
    code = receipt_main(["verify", str(folders["a"] / "run.json")])  # re-runs ms-train anew
    out = capsys.readouterr().out
    assert code == 0, out
    assert "MATCH" in out


@pytest.mark.verifies("ms-lm")
def test_verify_retrains_a_tiny_lm_folder_bit_for_bit(tmp_path, capsys, monkeypatch):
    """`ms-lm` runs here, in this process (torch and transformers already imported); verify
    re-runs the recorded `ms-lm ...` in a fresh process, so the two runs share nothing."""
    out = tmp_path / "lm"
    monkeypatch.chdir(TOPIC)
    run_as_console_script("ms-lm", ["--steps", "3", "--out", str(out)])
    assert json.loads((out / "run.json").read_text())["command"][0] == "ms-lm"
    capsys.readouterr()
    code = receipt_main(["verify", str(out / "run.json")])
    printed = capsys.readouterr().out
    assert code == 0 and "MATCH" in printed, printed
