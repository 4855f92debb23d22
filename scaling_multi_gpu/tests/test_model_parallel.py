"""Tensor and pipeline parallelism: sharded for real, within tolerance of one process, not bitwise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
import torch

TOLERANCE = 1e-6  # the README's stated tolerance (model_parallel.TOLERANCE must not be looser)


@pytest.fixture(scope="module")
def mp_run(tmp_path_factory):
    """ONE real `scaling-model-parallel` run (its own torchrun launch), shared by these tests."""
    out = tmp_path_factory.mktemp("model_parallel")
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "scaling_multi_gpu.model_parallel", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["variant"]: r for r in summary["variants"]}
    return {"out": out, "summary": summary, "rows": rows, "stdout": done.stdout, "seconds": seconds}


def test_stated_tolerance(mp_run):
    assert mp_run["summary"]["tolerance"] <= TOLERANCE


@pytest.mark.parametrize("variant", ["tp", "pp-gpipe", "pp-1f1b"])
def test_within_tolerance_of_one_process_but_not_bitwise(mp_run, variant):
    row = mp_run["rows"][variant]
    assert row["world_size"] == 2
    assert row["max_abs_diff_vs_single"] <= TOLERANCE, row
    # Not bit for bit: the sums happen in another order. If this were 0, the "parallel" run could
    # have silently computed the one-process model and the tolerance check would prove nothing.
    assert row["max_abs_diff_vs_single"] > 0 and not row["bitwise_equal_to_single"]
    assert row["verdict"] == "ok" and row["test_accuracy"] >= 0.9  # chance is 0.1


def test_tensor_parallel_ranks_hold_half_of_each_block(mp_run):
    row = mp_run["rows"]["tp"]
    full = mp_run["rows"]["single"]["ranks"][0]["shapes"]
    assert len(row["ranks"]) == 2
    for rank in row["ranks"]:
        for block in ("block0", "block1"):
            up, down = full[f"{block}.up.weight"], full[f"{block}.down.weight"]
            assert rank["shapes"][f"{block}.up.weight"] == [up[0] // 2, up[1]]  # columns of up
            assert rank["shapes"][f"{block}.up.bias"] == [up[0] // 2]
            assert rank["shapes"][f"{block}.down.weight"] == [down[0], down[1] // 2]  # rows of down
        assert rank["shapes"]["embed.weight"] == full["embed.weight"]  # replicated
        assert rank["parameters"] < row["full_parameters"]
    sharded = sum(
        n for k, s in full.items() if ".up." in k or k.endswith("down.weight") for n in [prod(s)]
    )
    replicated = row["full_parameters"] - sharded
    assert sum(r["parameters"] - replicated for r in row["ranks"]) == sharded


def prod(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


@pytest.mark.parametrize("variant", ["pp-gpipe", "pp-1f1b", "pp-gpipe-m8"])
def test_pipeline_stages_hold_disjoint_layers(mp_run, variant):
    row = mp_run["rows"][variant]
    first, second = row["ranks"]
    assert first["layers"] == ["embed", "block0"] and second["layers"] == ["block1", "head"]
    assert first["parameters"] + second["parameters"] == row["full_parameters"]
    assert not set(first["shapes"]) & set(second["shapes"])


def test_changing_the_micro_batch_count_changes_the_bits_not_the_model(mp_run):
    m4, m8 = mp_run["rows"]["pp-gpipe"], mp_run["rows"]["pp-gpipe-m8"]
    assert (m4["micro_batches"], m8["micro_batches"]) == (4, 8)
    assert m4["weights_sha256"] != m8["weights_sha256"]
    assert m8["max_abs_diff_vs_single"] <= TOLERANCE


def test_the_schedule_changes_the_timing_not_the_sums(mp_run):
    """GPipe and 1F1B run the same micro-batches' backwards in the same order: the same bits."""
    rows = mp_run["rows"]
    assert rows["pp-gpipe"]["weights_sha256"] == rows["pp-1f1b"]["weights_sha256"]
    assert rows["tp"]["weights_sha256"] != rows["pp-gpipe"]["weights_sha256"]


def test_receipts_and_weights_per_variant(mp_run):
    from scaling_multi_gpu import receipt

    for name, row in mp_run["rows"].items():
        run = json.loads((mp_run["out"] / name / "run.json").read_text())
        state = torch.load(mp_run["out"] / name / "weights.pt", weights_only=True)
        assert run["weights_sha256"] == row["weights_sha256"] == receipt.weights_sha256(state)
        assert run["command"][0] == "scaling-model-parallel" and "--worker" not in run["command"]
        assert run["config"]["variant"] == name
    assert (mp_run["out"] / "model_parallel.png").stat().st_size > 10_000
    assert "pp-1f1b" in mp_run["stdout"] and "(p-1)/(m+p-1)" in mp_run["stdout"]


def test_pipeline_bubble_follows_the_formula(mp_run):
    bubble = mp_run["summary"]["pipeline_bubble"]
    gpipe = {b["micro_batches"]: b["measured"] for b in bubble if b["schedule"] == "gpipe"}
    assert sorted(gpipe) == [1, 2, 4, 8]
    assert [b["theory"] for b in bubble if b["schedule"] == "gpipe"] == [0.5, 0.3333, 0.2, 0.1111]
    # m = 1 idles half the step, as (p-1)/(m+p-1) says; more micro-batches, a smaller bubble.
    assert abs(gpipe[1] - 0.5) < 0.1, gpipe
    assert gpipe[1] > gpipe[2] > gpipe[4], gpipe
    # At m = 8 the per-message cost (a few ms, more when the cores are shared) is a large part of
    # the 15 ms micro-batch steps: only on a machine that is not oversubscribed is it checked.
    if os.getloadavg()[0] <= (os.cpu_count() or 1):
        assert gpipe[8] < min(gpipe[4], 0.2), gpipe


def test_readme_numbers_come_from_the_run(mp_run):
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    full = mp_run["rows"]["single"]["full_parameters"]
    assert f"head, {round(full / 1000)}k parameters)" in readme
    stated = re.search(r"\*\*Within tolerance \(([0-9.e-]+)\), not bit for bit", readme)
    assert stated and float(stated.group(1)) == mp_run["summary"]["tolerance"]


def test_finishes_in_under_a_minute(mp_run):
    # "< 60 s on 2 idle cores"; on a shared machine the limit grows with the oversubscription.
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert mp_run["seconds"] < 60 * busy, f"{mp_run['seconds']:.0f} s at load x{busy:.1f}"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--micro-batches", "0"], "at least 1"),
        (["--micro-batches", "5"], "divide the batch"),
        (["--variants", "tp,pp-gpipe:3"], "divide the batch"),
        (["--variants", "zero-bubble"], "unknown variant"),
        (["--variants", "pp-1f1b:1"], "1F1B needs"),
        (["--variants", "tp,tp"], "each variant once"),
        (["--steps", "0"], "must be positive"),
    ],
)
def test_bad_input_is_one_line_before_any_process_starts(
    args, words, tmp_path, capsys, monkeypatch
):
    from scaling_multi_gpu import model_parallel

    def no_process(*a, **k):
        raise AssertionError("a process was started for bad input")

    monkeypatch.setattr(model_parallel.subprocess, "run", no_process)
    assert model_parallel.main([*args, "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_bad_input_exit_code_in_a_real_process(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scaling_multi_gpu.model_parallel",
            "--micro-batches",
            "0",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
