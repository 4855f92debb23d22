"""Tensor and pipeline parallelism: sharded for real, within tolerance of one process, not bitwise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction

import pytest
import torch
from safetensors.torch import load_file
from scaling_multi_gpu.model_parallel import TOLERANCE


@pytest.fixture(scope="module")
def mp_run(tmp_path_factory):
    """ONE real `scaling-model-parallel` run (its own torchrun launch), shared by these tests."""
    out = tmp_path_factory.mktemp("model_parallel")
    done = subprocess.run(
        [sys.executable, "-m", "scaling_multi_gpu.model_parallel", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["variant"]: r for r in summary["variants"]}
    return {"out": out, "summary": summary, "rows": rows, "stdout": done.stdout}


def test_stated_tolerance(mp_run):
    assert mp_run["summary"]["tolerance"] == TOLERANCE


def test_the_tolerance_catches_micro_batch_gradients_that_are_not_averaged():
    """Negative control, in this process: accumulating 4 micro-batches' gradients WITHOUT dividing
    by 4 (a pipeline with scale_grads=False) trains another model, far outside the tolerance;
    dividing by 4 stays inside it."""
    from scaling_multi_gpu import model_parallel as mp

    torch.set_num_threads(1)
    cfg = mp.Config()
    train, _ = mp.make_data(cfg)
    reference = mp.build_model(cfg)
    mp.sgd_loop(reference, cfg, train)

    def accumulated(divide: bool) -> float:
        model = mp.build_model(cfg)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
        for x, y in mp.batches(train, cfg):
            optimizer.zero_grad()
            for xm, ym in zip(x.chunk(4), y.chunk(4), strict=True):
                loss = torch.nn.functional.cross_entropy(model(xm), ym)
                (loss / 4 if divide else loss).backward()
            optimizer.step()
        return max((a - b).abs().max().item() for a, b in zip(model.parameters(), reference.parameters(), strict=True))  # fmt: skip

    assert 0 < accumulated(divide=True) <= TOLERANCE
    assert accumulated(divide=False) > 10 * TOLERANCE  # measured 4.8e-2


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
        state = load_file(mp_run["out"] / name / "model.safetensors")  # independent reader
        assert run["weights_sha256"] == row["weights_sha256"] == receipt.weights_sha256(state)
        assert run["command"][0] == "scaling-model-parallel" and "--worker" not in run["command"]
        assert run["config"]["variant"] == name
    assert (mp_run["out"] / "model_parallel.png").stat().st_size > 10_000
    assert "pp-1f1b" in mp_run["stdout"] and "(p-1)/(m+p-1)" in mp_run["stdout"]


def test_pipeline_bubble_follows_the_formula(mp_run):
    """Counted from the order each stage really ran (no clock): exactly (p-1)/(m+p-1)."""
    bubble = mp_run["summary"]["pipeline_bubble"]
    assert sorted(b["micro_batches"] for b in bubble if b["schedule"] == "gpipe") == [1, 2, 4, 8]
    assert sorted(b["micro_batches"] for b in bubble if b["schedule"] == "1f1b") == [2, 4, 8]
    for b in bubble:
        p, m = b["stages"], b["micro_batches"]
        assert p == 2 and Fraction(b["counted"]) == Fraction(p - 1, m + p - 1), b
        # The timed bubble is a benchmark (printed; it grows with per-message costs and load):
        # only its form is checked here, never its size.
        assert 0 <= b["measured"] < 1, b


def in_flight(order: str) -> int:
    """Most micro-batches whose forward ran but whose backward has not: activations held."""
    held, most = 0, 0
    for op in order.split():
        held += 1 if op.startswith("F") else -1
        most = max(most, held)
    return most


def test_each_stage_ran_every_micro_batch_forward_then_backward(mp_run):
    for b in mp_run["summary"]["pipeline_bubble"]:
        m = b["micro_batches"]
        for order in b["order_per_stage"]:
            ops = order.split()
            assert sorted(ops) == sorted([f"F{k}" for k in range(m)] + [f"B{k}" for k in range(m)])
            assert all(ops.index(f"F{k}") < ops.index(f"B{k}") for k in range(m)), order


def test_1f1b_holds_fewer_micro_batches_than_gpipe(mp_run):
    """Same bubble, other order: 1F1B starts backwards early, so it keeps at most p micro-batches'
    activations where GPipe keeps all m."""
    rows = {(b["schedule"], b["micro_batches"]): b for b in mp_run["summary"]["pipeline_bubble"]}
    gpipe, one_f_one_b = rows[("gpipe", 8)], rows[("1f1b", 8)]
    assert [in_flight(o) for o in gpipe["order_per_stage"]] == [8, 8]
    assert max(in_flight(o) for o in one_f_one_b["order_per_stage"]) <= one_f_one_b["stages"]
    assert gpipe["counted"] == one_f_one_b["counted"]


def test_the_count_tells_a_pipeline_from_running_micro_batches_one_by_one():
    """Negative controls for the counter: without pipelining a stage idles half the time, for
    any m; orders that wait on each other never finish."""
    from scaling_multi_gpu.pipeline_bubble import counted_bubble

    m = 4
    gpipe = [("F", k) for k in range(m)] + [("B", k) for k in range(m)]
    one_by_one = [op for k in range(m) for op in (("F", k), ("B", k))]
    assert counted_bubble([gpipe, gpipe]) == Fraction(1, m + 1)
    assert counted_bubble([one_by_one, one_by_one]) == Fraction(1, 2)
    with pytest.raises(ValueError, match="never finish"):
        counted_bubble([[("B", 0), ("F", 0)], [("F", 0), ("B", 0)]])


def test_readme_numbers_come_from_the_run(mp_run):
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    full = mp_run["rows"]["single"]["full_parameters"]
    assert f"head, {round(full / 1000)}k parameters)" in readme
    stated = re.search(r"\*\*Within tolerance \(([0-9.e-]+)\), not bit for bit", readme)
    assert stated and float(stated.group(1)) == mp_run["summary"]["tolerance"]


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
    from scaling_multi_gpu import model_parallel, model_parallel_report

    def no_process(*a, **k):
        raise AssertionError("a process was started for bad input")

    monkeypatch.setattr(model_parallel_report.subprocess, "run", no_process)
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


# The README's table: world, m, "= single", accuracy and verdict are machine-independent (checked
# everywhere); hashes and |Δw| belong to the fingerprint the README names (exact there, within the
# tolerance elsewhere); step ms is a benchmark (never compared).
MP_ROW = re.compile(
    r"^(?P<variant>\S+)\s+(?P<world>\d+)\s+(?P<m>\S+)\s+(?P<sha>[0-9a-f]{12}) (?P<eq>yes|no)\s+"
    r"(?P<diff>\S+)\s+(?P<acc>[0-9.]+)\s+[0-9.]+\s+(?P<verdict>\S+)$"
)
MEASURED_RANGE = re.compile(
    r"Measured ([0-9.e-]+) to ([0-9.e-]+) on\s+ATen's AVX512, AVX2 and DEFAULT"
)


def mp_rows(text: str) -> dict[str, dict[str, str]]:
    matches = (MP_ROW.match(line) for line in text.splitlines())
    return {m["variant"]: m.groupdict() for m in matches if m}


def test_readme_table_is_what_this_machine_prints(mp_run):
    from pathlib import Path

    from scaling_multi_gpu.model_parallel_report import render

    from scaling_multi_gpu import kernels

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    label = re.search(
        r"It prints the fingerprint of its kernels, then \(here on\n`([^`]+)`", readme
    )
    stated = mp_rows(readme[label.end() :].split("```")[1])
    summary = mp_run["summary"]
    ran = mp_rows(render(summary["variants"], summary["pipeline_bubble"], summary["tolerance"]))
    assert set(ran) == set(stated) and len(ran) == 5
    here = kernels.label(kernels.fingerprint())
    for variant, got in ran.items():
        want = stated[variant]
        for field in ("world", "m", "eq", "acc", "verdict"):
            assert got[field] == want[field], (variant, field)
        if here == label.group(1):
            assert (got["sha"], got["diff"]) == (want["sha"], want["diff"]), variant
        else:
            assert float(got["diff"]) <= TOLERANCE and float(want["diff"]) <= TOLERANCE
    low, high = (float(x) for x in MEASURED_RANGE.search(readme).groups())
    measured_on = {label.group(1).replace("ATen AVX512 / MKL_CBWR unset", k) for k in (
        "ATen AVX512 / MKL_CBWR unset", "ATen AVX2 / MKL_CBWR unset", "ATen DEFAULT / MKL_CBWR COMPATIBLE")}  # fmt: skip
    # As printed (3 significant digits), the way the README quotes them:
    diffs = [float(f"{r['max_abs_diff_vs_single']:.2e}") for r in summary["variants"] if r["kind"] != "single"]  # fmt: skip
    if here in measured_on:  # the README's range was measured on these three fingerprints
        assert all(low <= d <= high for d in diffs), diffs
    else:
        print(
            f"{here}: not one of the measured fingerprints; |Δw| {min(diffs):.1e}-{max(diffs):.1e}"
        )


@pytest.mark.verifies("scaling-model-parallel")
def test_verify_reruns_a_model_parallel_receipt_and_says_match(mp_run):
    receipt = next(iter(sorted(mp_run["out"].glob("*/run.json"))))
    done = subprocess.run(
        [sys.executable, "-m", "scaling_multi_gpu.receipt", "verify", str(receipt)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]


def test_tp_and_pp_minimal_run_with_torchrun_and_match_one_process(tmp_path):
    """The one-screen scripts, launched as the README says (two launches at once)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launches = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc-per-node=2",
                "-m",
                f"scaling_multi_gpu.{name}",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for name in ("tp_minimal", "pp_minimal")
    }
    for name, proc in launches.items():
        log = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, log[-3000:]
        diff = float(re.search(r"vs one process: max \|Δw\| = (\S+) ", log).group(1))
        assert 0 < diff <= TOLERANCE, (name, diff)  # not the same run twice, and within tolerance
    assert list(tmp_path.iterdir()) == []  # they write nothing
