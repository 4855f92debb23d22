"""Receipts that travel: `mt-drift` plays "another machine" on this one, and `compare` / `verify`
say why two headline runs differ (issue 12's acceptance checks for the headline).

One `mt-drift` run (five `mt-train` processes) is shared by the whole module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from modular_training.drift import TEST_IMAGES, another_dispatch
from modular_training.receipt import load_receipt, validate_receipt

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "modular_training.receipt"]


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def drift(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("drift")
    done = run([sys.executable, "-m", "modular_training.drift", "--out", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads((out / "drift.json").read_text())
    table["out"] = out
    return table


def machine_rows(drift: dict) -> list[dict]:
    return [r for r in drift["rows"] if "seed" not in r["machine"]]


def test_drift_rows_differ_in_hash_and_agree_in_accuracy(drift):
    rows = machine_rows(drift)
    assert len(rows) >= 3, [r["machine"] for r in rows]
    hashes = [r["weights_sha256"] for r in rows]
    assert len(set(hashes)) == len(hashes), (
        "two 'machines' gave the same bits: the row shows nothing"
    )
    first = rows[0]["test_accuracy"]
    for r in rows[1:]:
        assert abs(r["test_accuracy"] - first) <= 1 / TEST_IMAGES + 1e-6, r  # within one test image
        assert r["cause"], f"compare named no cause for {r['machine']}"
        assert 0 < r["max_abs_diff"] < 1e-4, r  # a new hash, yet the weights a hair apart
        assert r["verdict"] == "WITHIN TOLERANCE", r
    seed_row = next(r for r in drift["rows"] if "seed" in r["machine"])
    assert seed_row["verdict"] == "DIFFERENT" and seed_row["max_abs_diff"] > 1e-2
    assert any("seed" in c for c in seed_row["cause"])
    assert (drift["out"] / "drift.png").stat().st_size > 5000
    assert "| machine |" in (drift["out"] / "drift.md").read_text()


def test_drift_names_the_setting_that_made_each_machine(drift):
    causes = {r["machine"]: " ".join(r["cause"]) for r in drift["rows"]}
    assert "env.MKL_CBWR: None -> COMPATIBLE" in causes["MKL compatible"]
    assert "env.torch_threads: 1 -> 2" in causes["2 threads"]
    if another_dispatch() is not None:
        assert (
            f"env.ATEN_CPU_CAPABILITY: None -> {another_dispatch()}"
            in causes[f"ATen {another_dispatch()}"]
        )


def test_drift_is_fast_enough_for_a_live_demo(drift):
    busy = os.getloadavg()[0] / (os.cpu_count() or 1)
    if busy > 3:
        pytest.skip(f"machine oversubscribed (load x{busy:.1f}); took {drift['seconds']:.0f} s")
    assert drift["seconds"] < 90 * max(1.0, busy), f"mt-drift took {drift['seconds']:.0f} s"


def test_compare_names_aten_dispatch_with_both_values_and_measures_the_gap(drift):
    aten = another_dispatch()
    if aten is None:
        pytest.skip("this CPU has no second ATen dispatch level to switch to")
    first, other = (
        drift["rows"][0]["receipt"],
        next(r for r in drift["rows"] if "ATen" in r["machine"]),
    )
    done = run([*RECEIPT, "compare", first, other["receipt"]])
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("WITHIN TOLERANCE: weights_sha256 differ; max |Δw| = "), lines[0]
    assert f'env.ATEN_CPU_CAPABILITY: null -> "{aten}"' in done.stdout
    assert any(line.strip().startswith("metric test_accuracy:") for line in lines)
    # bit-changing fields come first: the ATen line stands above "other fields"
    assert done.stdout.index("ATEN_CPU_CAPABILITY") < done.stdout.index("other fields")


def test_compare_with_a_tight_tolerance_says_different(drift):
    first, other = drift["rows"][0]["receipt"], drift["rows"][1]["receipt"]
    done = run([*RECEIPT, "compare", first, other, "--atol", "1e-9"])
    assert done.returncode == 1 and done.stdout.startswith("DIFFERENT:"), done.stdout


def test_every_drift_receipt_has_the_documented_fields(drift):
    for r in drift["rows"]:
        assert validate_receipt(load_receipt(Path(r["receipt"]))) == [], r["receipt"]


def test_verify_reproduces_a_fresh_headline_receipt(drift):
    done = run([*RECEIPT, "verify", drift["rows"][0]["receipt"]])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MATCH" in done.stdout


def test_verify_applies_the_recorded_kernel_setting(drift):
    """Verifying the MKL row re-runs with MKL_CBWR=COMPATIBLE and so matches that row, not the first."""
    row = next(r for r in drift["rows"] if r["machine"] == "MKL compatible")
    done = run([*RECEIPT, "verify", row["receipt"]])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MKL_CBWR=COMPATIBLE" in done.stdout and "MATCH" in done.stdout


def test_verify_catches_an_edited_hash(drift, tmp_path):
    src = Path(drift["rows"][0]["receipt"]).parent
    copy = tmp_path / "edited"
    shutil.copytree(src, copy)
    receipt = json.loads((copy / "run.json").read_text())
    receipt["weights_sha256"] = "0" * 64
    (copy / "run.json").write_text(json.dumps(receipt))
    done = run([*RECEIPT, "verify", str(copy / "run.json")])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MATCH" not in done.stdout


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_verify_refuses_a_receipt_of_another_topic(drift, tmp_path):
    receipt = json.loads(Path(drift["rows"][0]["receipt"]).read_text())
    receipt["topic"], receipt["command"] = "overfitting", ["of-seeds", "--out", "x"]
    (tmp_path / "run.json").write_text(json.dumps(receipt))
    line = one_error_line(run([*RECEIPT, "verify", str(tmp_path / "run.json")]))
    assert "overfitting" in line


def test_compare_bad_input_is_one_error_line(drift, tmp_path):
    first = drift["rows"][0]["receipt"]
    assert "no such file" in one_error_line(
        run([*RECEIPT, "compare", first, str(tmp_path / "no.json")])
    )
    (tmp_path / "list.json").write_text("[1, 2]")
    assert "not a run receipt" in one_error_line(
        run([*RECEIPT, "compare", first, str(tmp_path / "list.json")])
    )
    other = json.loads(Path(first).read_text())
    other["command"] = ["mt-resume", *other["command"][1:]]
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert "two different commands" in one_error_line(
        run([*RECEIPT, "compare", first, str(tmp_path / "other.json")])
    )
    assert one_error_line(run([*RECEIPT, "compare", first]))  # argparse's usage error, one line too


@pytest.mark.gpu
def test_a_cpu_and_a_cuda_run_are_within_tolerance_and_compare_names_the_device(drift, tmp_path):
    env = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    argv = [sys.executable, "-m", "modular_training.drift", "--cuda", "--out", str(tmp_path)]
    done = run(argv, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(
        r
        for r in json.loads((tmp_path / "drift.json").read_text())["rows"]
        if r["machine"] == "cuda"
    )
    assert row["verdict"] == "WITHIN TOLERANCE", row
    assert any(c.startswith("env.device: cpu -> cuda") for c in row["cause"]), row["cause"]


README_FINGERPRINT = ["torch", "torch_cpu_capability", "torch_threads", "cpu_vendor"]


def test_readme_hash_is_what_its_fingerprint_gives(drift):
    """The README's headline hash is checked on any machine with the fingerprint it names."""
    readme = (TOPIC / "README.md").read_text()
    shown = re.search(r"^weights_sha256 ([0-9a-f]{64})$", readme, re.MULTILINE).group(1)
    accuracy = re.search(r"^test accuracy (0\.\d{4}) ", readme, re.MULTILINE).group(1)
    table = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", readme, re.MULTILINE))
    assert set(README_FINGERPRINT) <= table.keys(), "README's fingerprint table lacks fields"
    base = drift["rows"][0]
    env = load_receipt(Path(base["receipt"]))["env"]
    other = {k: (table[k], str(env[k])) for k in README_FINGERPRINT if table[k] != str(env[k])}
    # the accuracy barely depends on the machine: within one test image anywhere
    assert abs(float(accuracy) - base["test_accuracy"]) <= 1 / TEST_IMAGES + 1e-4
    if other:
        pytest.skip(f"this machine's fingerprint differs from the README's: {other}")
    assert base["weights_sha256"] == shown
