"""scaling-bench: every row and field on a CPU in seconds; on a GPU, the speed-up it claims."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scaling_multi_gpu.bench import LADDER, NUMBERS
from scaling_multi_gpu.flops import small_cnn_train_flops

from scaling_multi_gpu import bench, bench_data

FIELDS = {"row", "key", "status", "ratio_to_first", *NUMBERS}


@pytest.fixture(scope="module")
def cpu_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert (
        bench.main(["--model", "small", "--device", "cpu", "--steps", "5", "--out", str(out)]) == 0
    )
    return out, json.loads((out / "bench.json").read_text())


def test_cpu_bench_writes_every_row_and_field(cpu_bench):
    """Every ladder row is in bench.json and bench.md, measured or marked n/a with its reason."""
    out, result = cpu_bench
    assert [r["row"] for r in result["rows"]] == [r.name for r in LADDER]
    statuses = {r["key"]: r["status"] for r in result["rows"]}
    for key in ("original-as-run", "fp32-strict", "bf16", "channels_last"):
        assert statuses[key] == "ok", (key, statuses[key])
    assert "TF32" in statuses["tf32"] and "--cpu-compile" in statuses["compile"]
    for r in result["rows"]:
        assert set(r) >= FIELDS, FIELDS - set(r)
        if r["status"] == "ok":
            assert r["images_per_s"] > 0 and r["achieved_tflops"] > 0
            assert r["mfu"] is None and r["peak_tflops"] is None  # no datasheet peak for a CPU
        else:
            assert r["status"].startswith("n/a: ") and r["images_per_s"] is None
    # The FLOPs per image come from FlopCounterMode; the formula in flops.py counts them by hand.
    assert result["gflop_per_image"] == round(small_cnn_train_flops(100, image_size=32) / 1e9, 4)
    table = (out / "bench.md").read_text()
    assert all(f"| {r.name} |" in table for r in LADDER)
    with Image.open(out / "bench.png") as png:  # an independent reader: a whole, valid PNG
        png.verify()
    assert not list(out.glob(".*tmp*"))


def test_original_as_run_is_pytorch_defaults_and_the_ratios_are_against_it(cpu_bench):
    """`original-as-run`: TF32 as PyTorch sets it when nobody touches it (read in a fresh process,
    not from our constant), no loader workers; `fp32-strict`: TF32 off, `--workers` workers."""
    out, result = cpu_bench
    rows = {r["key"]: r for r in result["rows"]}
    fresh = subprocess.run(
        [sys.executable, "-c", "import torch; b = torch.backends; "
         "print(int(b.cuda.matmul.allow_tf32), int(b.cudnn.allow_tf32))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    matmul, cudnn = (bool(int(v)) for v in fresh.stdout.split())
    assert rows["original-as-run"]["allow_tf32"] == {"matmul": matmul, "cudnn": cudnn}
    assert rows["fp32-strict"]["allow_tf32"] == {"matmul": False, "cudnn": False}
    assert rows["original-as-run"]["workers"] == 0
    assert rows["fp32-strict"]["workers"] == result["workers"]
    assert result["data"].startswith(("synthetic", "CIFAR-100"))
    base = rows["original-as-run"]["images_per_s"]
    for r in result["rows"]:
        if r["images_per_s"]:
            assert r["ratio_to_first"] == round(r["images_per_s"] / base, 2), r["row"]
    table = (out / "bench.md").read_text()
    assert "| original-as-run |" in table and "| fp32-strict |" in table


def test_device_side_input_is_the_same_images_as_the_pil_pipeline():
    """The gpu_input row must feed the model the same pictures, only resized elsewhere."""
    images, labels, _ = bench_data.cifar_shaped_images(8, seed=0)
    args = type("Args", (), {"image_size": 96, "batch": 8, "workers": 0})()
    on_device = next(bench_data.device_batches(images, labels, args, torch.device("cpu"), seed=0))[
        0
    ]
    order = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    pil = torch.stack([bench_data.PilResized(images, labels, 96)[int(i)][0] for i in order])
    assert on_device.shape == pil.shape == (8, 3, 96, 96)
    # PIL and torch interpolate slightly differently at the borders, not image against image:
    assert (on_device - pil).abs().mean() < 0.1
    other = torch.stack([bench_data.PilResized(images, labels, 96)[i][0] for i in range(8)])
    assert (on_device - other).abs().mean() > 0.3 or np.array_equal(order.numpy(), np.arange(8))


def test_a_device_input_row_runs_end_to_end_on_the_cpu():
    """The gpu_input row's code path (device_batches inside the timed loop), without compile."""
    images, labels, _ = bench_data.cifar_shaped_images(16, seed=0)
    args = type("Args", (), {"model": "small", "image_size": 32, "batch": 4, "workers": 0, "warmup": 1, "steps": 3, "seed": 0})()  # fmt: skip
    row = bench.Row("gpu_input", "gpu_input", gpu_input=True, channels_last=True)
    result = bench.run_row(row, args, torch.device("cpu"), (images, labels), flops_per_image=1e7)
    assert set(result) == set(NUMBERS)
    assert result["images_per_s"] > 0 and result["mfu"] is None and result["math_mode"] == "fp32"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--rows", "original-as-run,fp8"], "unknown --rows"),
        (["--steps", "0"], "--steps >= 1"),
        (["--workers", "-1"], "--workers"),
    ],
)
def test_bad_input_is_one_error_line(args, words, tmp_path, capsys):
    out = tmp_path / "o"
    assert bench.main(["--model", "small", "--device", "cpu", *args, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a usable GPU")
def test_cuda_without_a_gpu_is_one_error_line_not_a_cpu_run(tmp_path, capsys):
    out = tmp_path / "o"
    assert bench.main(["--model", "small", "--device", "cuda", "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device cuda: "), lines
    assert "no GPU" in lines[0] or "torch cannot use the GPU" in lines[0]
    assert not out.exists()


@pytest.mark.gpu
def test_resnet152_on_the_gpu_beats_the_workshop_setting(tmp_path):
    """bf16 + channels_last beats `original-as-run`; MFU is plausible on every row. scripts/device_check.sh
    sets SCALING_BENCH_JSON to the full ladder it has just run, so it is not run twice."""
    if os.environ.get("SCALING_BENCH_JSON"):
        result = json.loads(Path(os.environ["SCALING_BENCH_JSON"]).read_text())
    else:
        pytest.importorskip("torchvision", reason="needs the vision extra: uv sync --extra vision")
        out = tmp_path / "gpu"
        rows = "original-as-run,fp32-strict,tf32,bf16,channels_last,gpu_input"
        cmd = [sys.executable, "-m", "scaling_multi_gpu.bench", "--model", "resnet152", "--device", "cuda", "--rows", rows, "--steps", "10", "--warmup", "3", "--out", str(out)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        print(done.stdout)
        result = json.loads((out / "bench.json").read_text())
    assert result["model"] == "resnet152" and result["device"] == "cuda"
    by_key = {r["key"]: r for r in result["rows"]}
    assert all(r["status"] == "ok" for r in result["rows"]), [r["status"] for r in result["rows"]]
    assert by_key["channels_last"]["images_per_s"] > by_key["original-as-run"]["images_per_s"]
    assert by_key["fp32-strict"]["allow_tf32"] == {"matmul": False, "cudnn": False}
    assert by_key["original-as-run"]["allow_tf32"]["cudnn"]  # PyTorch's default on a GPU
    if (
        by_key["original-as-run"]["peak_tflops"] is not None
    ):  # a GPU in the peak table (H100, H200...)
        for r in result["rows"]:
            assert 0.01 < r["mfu"] < 0.80, (r["row"], r["mfu"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a usable GPU")
def test_device_check_fails_fast_in_one_line_without_a_gpu(tmp_path):
    from conftest import TOPIC_ROOT

    out = tmp_path / "check"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", "scripts/device_check.sh", str(out)], cwd=TOPIC_ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip().splitlines() == ["error: device_check needs a CUDA GPU: no GPU"]
        or "torch cannot use the GPU" in done.stderr
    )
    assert not out.exists()  # nothing half-written


def test_sweep_table_compares_with_the_workshop(tmp_path):
    for n, rate in [(1, 250.0), (2, 450.0), (4, 800.0)]:
        (tmp_path / f"gpus-{n}").mkdir()
        (tmp_path / f"gpus-{n}" / "run.json").write_text(json.dumps({"metrics": {"samples_per_s": rate}}))  # fmt: skip
    assert bench.main(["--sweep-table", str(tmp_path)]) == 0
    rows = [line.split("|")[1:-1] for line in (tmp_path / "sweep.md").read_text().splitlines()[2:]]
    assert [r[0].strip() for r in rows] == ["1", "2", "4"]
    four = [c.strip() for c in rows[2]]
    assert four[2] == "62" and four[3] == "80%"  # 50,000 / 800 images/s; 800 / (4 x 250)
    assert four[4] == "60" and four[5] == "88%"  # the workshop chart's bar; 210 / (4 x 60)


@pytest.mark.parametrize(
    "receipt_text, words",
    [
        ('{"metrics": {"samples_per', "not a readable receipt"),  # truncated
        ('{"metrics": {"test_accuracy": 0.9}}', "no samples_per_s"),  # another command's
        ('{"metrics": {"samples_per_s": "fast"}}', "not a positive number"),
        (None, "needs the 1-GPU run"),  # no gpus-1 at all
    ],
)
def test_sweep_table_refuses_a_bad_receipt_in_one_line(receipt_text, words, tmp_path, capsys):
    (tmp_path / "gpus-2").mkdir()
    (tmp_path / "gpus-2" / "run.json").write_text(json.dumps({"metrics": {"samples_per_s": 9.0}}))
    if receipt_text is not None:
        (tmp_path / "gpus-1").mkdir()
        (tmp_path / "gpus-1" / "run.json").write_bytes(receipt_text.encode())
    assert bench.main(["--sweep-table", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert not (tmp_path / "sweep.md").exists()


def test_sweep_table_refuses_a_misnamed_folder(tmp_path, capsys):
    for name in ("gpus-1", "gpus-two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"metrics": {"samples_per_s": 9.0}}))
    assert bench.main(["--sweep-table", str(tmp_path)]) == 2
    assert "gpus-two" in capsys.readouterr().err


def test_readme_quotes_the_workshop_chart_and_its_efficiencies():
    """The chart's bars are data (bench_report.WORKSHOP_CHART_SECONDS); the efficiencies the
    README quotes are computed from them: 210 / (N x seconds)."""
    from conftest import TOPIC_ROOT
    from scaling_multi_gpu.bench_report import WORKSHOP_CHART_SECONDS as chart

    readme = " ".join((TOPIC_ROOT / "README.md").read_text().split())
    s = chart
    assert f"about {s[1]} on 1 GPU, {s[2]} on 2, {s[4]} on 4 and {s[8]} on 8" in readme
    eff = " / ".join(f"{100 * s[1] / (n * s[n]):.0f}" for n in (2, 4, 8))
    assert f"(speed-up efficiency about {eff} %)" in readme
