"""RNG lab (a)-(d), the DataLoader benchmark, the ZeRO memory calculator and hwinfo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from scaling_multi_gpu import dataloader_lab, hwinfo, rng_lab, zero_memory


# --------------------------------------------------------------------------- RNG lab
def test_a_unreseeded_dataset_rng_repeats_across_workers():
    bug = rng_lab.augmentations_per_batch(fix=False)
    assert (
        bug[0] == bug[1] and bug[2] == bug[3]
    )  # worker 0 and worker 1 drew the same "random" crops


def test_a_worker_init_fn_fixes_it_reproducibly():
    fixed = rng_lab.augmentations_per_batch(fix=True, seed=0)
    assert fixed[0] != fixed[1] and fixed[2] != fixed[3]
    assert (
        rng_lab.augmentations_per_batch(fix=True, seed=0) == fixed
    )  # same generator seed, same draws
    assert rng_lab.augmentations_per_batch(fix=True, seed=1) != fixed


def test_b_forgetting_set_epoch_repeats_the_order():
    without = rng_lab.epoch_orders(call_set_epoch=False)
    assert without[0] == without[1] == without[2]
    with_set_epoch = rng_lab.epoch_orders(call_set_epoch=True)
    assert with_set_epoch[0] != with_set_epoch[1] != with_set_epoch[2]
    assert with_set_epoch[0] == without[0]  # epoch 0 is the same: only later epochs reveal the bug


def test_c_seeded_generator_gives_the_same_batches():
    first = rng_lab.batch_order(seed=0)
    assert rng_lab.batch_order(seed=0, disturb_global_rng=True) == first
    assert rng_lab.batch_order(seed=1) != first
    assert sorted(i for b in first for i in b) == list(range(12))


def test_d_without_the_fix_every_ddp_rank_draws_the_same_augmentations():
    bug = rng_lab.augmentations_per_rank(fix=False)
    assert set(bug[0]["samples"]).isdisjoint(bug[1]["samples"])  # different images per rank...
    assert bug[0]["augmentations"] == bug[1]["augmentations"]  # ...the same "random" crops


def test_d_generator_seeded_with_seed_plus_rank_fixes_it_reproducibly():
    fixed = rng_lab.augmentations_per_rank(fix=True)
    assert fixed[0]["augmentations"] != fixed[1]["augmentations"]
    assert len(set(fixed[0]["augmentations"] + fixed[1]["augmentations"])) == 16
    assert rng_lab.augmentations_per_rank(fix=True) == fixed  # a rerun draws the same
    assert [r["samples"] for r in fixed.values()] == [  # the fix leaves the data split alone
        r["samples"] for r in rng_lab.augmentations_per_rank(fix=False).values()
    ]


# --------------------------------------------------------------------------- DataLoader benchmark
def test_dataloader_benchmark_writes_table_and_plot(tmp_path):
    dataloader_lab.main(
        ["--samples", "128", "--batch-size", "32", "--epochs", "2", "--out", str(tmp_path)]
    )
    table = (tmp_path / "dataloader_bench.md").read_text().splitlines()
    rows = table[2:]
    assert len(rows) >= 6
    assert (
        any("workers=0" in r for r in rows)
        and any("persistent" in r for r in rows)
        and any("device-batched" in r for r in rows)
    )
    assert all(float(r.rsplit("|", 2)[1]) > 0 for r in rows)
    assert (tmp_path / "dataloader_bench.png").stat().st_size > 1000


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_batched_augmentation_does_the_per_sample_work(seed):
    """Given the same random draws (crop offset, flip), the batched version computes the same
    pixels as the per-sample one: the benchmark compares two ways of doing ONE job."""
    img = dataloader_lab.ImageDataset(1, per_sample=False)[0]
    torch.manual_seed(seed)
    one = dataloader_lab.augment_one(img)
    torch.manual_seed(seed)  # the same stream: randint (crop offset), then rand (flip)
    batch = dataloader_lab.augment_batch(img[None])
    assert batch.shape == (1, *one.shape)
    assert torch.allclose(batch[0], one, atol=1e-5)


# --------------------------------------------------------------------------- ZeRO memory on paper
def test_zero_paper_worked_example():
    """Rajbhandari et al. 2020, Fig. 1: 7.5B parameters, 64 GPUs, K = 12."""
    got = [round(e.gb_per_gpu, 1) for e in zero_memory.estimate(7.5e9, 64, 80)]
    assert got == [120.0, 31.4, 16.6, 1.9]


def test_zero_advice_picks_least_partitioning_that_fits():
    est = zero_memory.estimate(7.5e9, 64, 80)
    assert [e.fits for e in est] == [False, True, True, True]
    assert zero_memory.advice(est).startswith("use ZeRO-1")
    assert zero_memory.advice(zero_memory.estimate(1e8, 8, 80)).startswith("use DDP")
    assert zero_memory.advice(zero_memory.estimate(1e12, 8, 80)).startswith("nothing fits")


@pytest.mark.parametrize("text, value", [("7.5B", 7.5e9), ("350M", 3.5e8), ("1.3e9", 1.3e9)])
def test_parameter_counts_parse(text, value):
    assert zero_memory.parse_count(text) == pytest.approx(value)


# --------------------------------------------------------------------------- hwinfo
def test_hwinfo_describes_this_machine():
    info = hwinfo.collect()
    cpu = info["cpu"]
    assert cpu["logical_cores"] >= 1 and info["memory_gib"] > 0 and cpu["model"]
    assert 1 <= cpu["physical_cores"] <= cpu["logical_cores"] == os.cpu_count()
    assert 1 <= cpu["usable_cores"] <= cpu["logical_cores"]
    assert info["software"]["gloo"] is True
    json.dumps(info)  # JSON-ready


def test_peak_table_lookup_reaches_every_entry():
    """Names are matched by substring, first match wins: a key that contains another ("H100 PCIe"
    contains "H100") must come first, or its row can never be found."""
    keys = [key for key, _ in hwinfo.PEAK_TFLOPS]
    for i, key in enumerate(keys):
        assert not any(earlier in key for earlier in keys[:i]), f"{key} is shadowed"
        device_name = f"NVIDIA {key} 80GB"
        assert hwinfo.peak_tflops(device_name, "fp32") == hwinfo.PEAK_TFLOPS[i][1]["fp32"]
    assert hwinfo.peak_tflops("Some Future GPU", "bf16") is None


# --------------------------------------------------------------------------- bad input
def test_bad_input_exits_2_with_one_line_in_a_real_process():
    done = subprocess.run(
        [sys.executable, "-m", "scaling_multi_gpu.zero_memory", "--params", "lots"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: cannot read a parameter count from 'LOTS' (e.g. 7.5B or 7.5e9)"
    ]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--strategy", "horovod"], "unknown strategy"),
        (["--strategy", "deepspeed", "--deepspeed-config", "nope.json"], "not found"),
        (["--strategy", "ddp"], "launch with torchrun"),
        (["--strategy", "single", "--global-batch", "0"], "must be positive"),
    ],
)
def test_train_bad_input_is_one_line_and_exit_2(args, words, tmp_path, capsys):
    from scaling_multi_gpu import train

    assert train.main([*args, "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_zero_communication_is_ddps_until_stage_3():
    """ZeRO paper, section 7: DDP's all-reduce = reduce-scatter + all-gather = 2Ψ; ZeRO-1/2 the
    same 2Ψ; ZeRO-3 3Ψ. Ring collectives send (N-1)/N of each pass; fp16 = 2 bytes."""
    for gpus in (2, 8, 64):
        est = zero_memory.estimate(7.5e9, gpus, 80)
        ddp = est[0].comm_gb_per_gpu
        assert ddp == pytest.approx(2 * (gpus - 1) / gpus * 7.5e9 * 2 / 1e9)
        assert [round(e.comm_gb_per_gpu / ddp, 2) for e in est] == [1.0, 1.0, 1.0, 1.5]
    est = zero_memory.estimate(7.5e9, 64, 80)
    table = zero_memory.render(7.5e9, 64, 80, est)
    ddp, z3 = f"{est[0].comm_gb_per_gpu:.1f}", f"{est[3].comm_gb_per_gpu:.1f}"
    assert f"{ddp}  1.0" in table and f"{z3}  1.5" in table
    from conftest import TOPIC_ROOT

    slides = (TOPIC_ROOT / "slides.md").read_text()
    assert f"sends {ddp} GB per step for DDP and ZeRO-1/2, {z3} GB for ZeRO-3" in slides


def test_only_zero_3_is_said_to_need_more_communication():
    from conftest import TOPIC_ROOT

    files = [TOPIC_ROOT / "README.md", TOPIC_ROOT / "slides.md", *TOPIC_ROOT.glob("src/**/*.py")]
    for path in files:
        for line in path.read_text().splitlines():
            if "more communication" in line.lower():
                assert "ZeRO-3" in line, f"{path.name}: {line}"
