"""The reproducibility core: same seed + same global batch = same model, whatever the strategy."""

from __future__ import annotations

import json

import pytest
from scaling_multi_gpu.equivalence import DISTRIBUTED_VARIANTS, TOLERANCE, launch, launch_args


def by_variant(rows: list[dict]) -> dict[str, dict]:
    return {r["variant"]: r for r in rows}


def test_every_strategy_ran_and_learned(equivalence_run):
    rows = by_variant(equivalence_run[1])
    assert set(rows) == {
        "single",
        "single-sum",
        "single-accum2",
        "ddp",
        "fsdp",
        "zero1",
        "zero2",
        "zero3",
        "ddp-sum",
    }
    for r in rows.values():
        assert r["test_accuracy"] >= 0.9, r  # chance is 0.1: the model learned


def test_ddp_fsdp_and_zero_stages_are_bitwise_equal(equivalence_run):
    rows = by_variant(equivalence_run[1])
    for name in ("fsdp", "zero1", "zero2", "zero3"):
        assert rows[name]["weights_sha256"] == rows["ddp"]["weights_sha256"], name


def test_two_processes_match_one_process_within_tolerance(equivalence_run):
    rows = by_variant(equivalence_run[1])
    for name in ("ddp", "fsdp", "zero1", "zero2", "zero3"):
        assert rows[name]["max_abs_diff_to_reference"] <= TOLERANCE, rows[name]
    # ...but not bitwise: the additions happen in another order. If this ever becomes 0, the
    # "2 processes" run silently used one process's batch and the test above proves nothing.
    assert rows["ddp"]["max_abs_diff_to_reference"] > 0


def test_two_accumulation_steps_equal_two_processes(equivalence_run):
    """--grad-accum 2 on ONE process = DDP on 2 processes (same 2 x 32 images per step)."""
    out, rows = equivalence_run
    accum = by_variant(rows)["single-accum2"]
    assert accum["world_size"] == 1 and accum["reference"] == "ddp"
    assert accum["max_abs_diff_to_reference"] <= TOLERANCE, accum
    config = json.loads((out / "single-accum2" / "run.json").read_text())["config"]
    assert config["grad_accum"] == 2 and config["micro_batch"] == 32
    # ...and it did accumulate: the one-process run WITHOUT accumulation is another model
    # (bits differ), so this comparison is not comparing a run with itself.
    assert accum["weights_sha256"] != by_variant(rows)["single"]["weights_sha256"]


def test_sum_reduced_loss_is_caught(equivalence_run):
    rows = by_variant(equivalence_run[1])
    # On one process, sum with lr/batch IS the mean: bitwise the same weights...
    assert rows["single-sum"]["weights_sha256"] == rows["single"]["weights_sha256"]
    # ...but DDP averages gradients over ranks, so the summed loss steps 1/world too small.
    assert rows["ddp-sum"]["max_abs_diff_to_reference"] > 1000 * TOLERANCE
    assert not rows["ddp-sum"]["within_tolerance"]
    assert rows["ddp-sum"]["test_accuracy"] >= 0.9  # and accuracy alone would not have noticed


def test_receipts_record_throughput_and_memory_per_rank(equivalence_run):
    out, _ = equivalence_run
    run = json.loads((out / "zero3" / "run.json").read_text())
    m = run["metrics"]
    assert m["world_size"] == 2 and m["backend"] == "gloo"
    assert m["samples_per_s"] > 0 and m["step_time_s"] > 0
    assert len(m["peak_memory_mib_per_rank"]) == 2
    assert m["mfu"] is None  # no datasheet peak for a CPU
    assert run["config"]["deepspeed_config"].endswith("zero3.json")
    assert (out / "equivalence.png").stat().st_size > 1000


@pytest.mark.slow
def test_rerun_is_bitwise_identical(equivalence_run, tmp_path):
    """A second, separate launch of the same command reproduces every strategy bit for bit."""
    out, rows = equivalence_run
    launch(2, DISTRIBUTED_VARIANTS, tmp_path, launch_args(steps=30, seed=0))
    for r in rows:
        if r["world_size"] > 1:
            rerun = json.loads((tmp_path / r["variant"] / "run.json").read_text())
            assert rerun["weights_sha256"] == r["weights_sha256"], r["variant"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--grad-accum", "3"], "not divisible"),  # 64 images do not split into 3 micro-batches
        (["--grad-accum", "0"], "must be positive"),
        (["--grad-accum", "2", "--loss-reduction", "sum"], "needs the mean loss"),
        (["--sync-bn", "--device", "cpu"], "--sync-bn needs GPUs"),
    ],
)
def test_new_train_options_refuse_bad_input_in_one_line(args, words, tmp_path, capsys):
    from scaling_multi_gpu import train

    assert train.main(["--strategy", "single", "--steps", "1", *args, "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert not (tmp_path / "o").exists()
