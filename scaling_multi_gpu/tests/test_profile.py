"""torch.profiler around the loop (--profile DIR) and the table read from its trace (profile_report).

conftest's 2-process gloo launch (shared with test_ddp_minimal) and two tiny in-process runs
serve every test here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scaling_multi_gpu.profile_lab import ACTIVE
from scaling_multi_gpu.profile_report import PARTS, split_trace

from scaling_multi_gpu import bench, profile_report, train

TINY = [
    "--steps",
    "5",
    "--n-samples",
    "256",
    "--global-batch",
    "64",
]  # 1 skipped, 1 warm-up, 3 kept


def events(path: Path) -> list[dict]:
    return [e for e in json.loads(path.read_text())["traceEvents"] if e.get("ph") == "X"]


@pytest.fixture(scope="module")
def ddp_profile(ddp_launches) -> Path:
    """The traces of conftest's 2-process gloo launch of train.py --strategy ddp --profile DIR
    (10 steps: 1 skipped, 1 warm-up, 3 kept). `receipt verify` re-runs it and adds a trace pair."""
    return ddp_launches["train"].parents[1] / "train-profile"


@pytest.fixture(scope="module")
def single_runs(tmp_path_factory) -> Path:
    """The same one-process run twice, in this process: with --profile and without."""
    root = tmp_path_factory.mktemp("single-profile")
    assert train.main([*TINY, "--out", str(root / "plain")]) == 0
    assert train.main([*TINY, "--out", str(root / "profiled"), "--profile", str(root / "trace")]) == 0  # fmt: skip
    return root


def test_each_rank_writes_a_trace_with_the_convolution_and_the_all_reduce(ddp_profile):
    traces = sorted(ddp_profile.glob("*.pt.trace.json"))
    assert {t.name.split(".")[0] for t in traces} == {"rank0", "rank1"}
    for trace in traces:
        names = {e["name"] for e in events(trace)}
        assert "aten::conv2d" in names  # the model's main op, as recorded by the locked torch
        assert "gloo:all_reduce" in names  # DDP's gradient all-reduce on a CPU (gloo backend)
        assert (
            sum(n.startswith("ProfilerStep#") for n in names) == ACTIVE
        )  # the schedule's kept steps


def test_the_report_splits_each_step_into_parts_that_add_up(ddp_profile):
    for trace in sorted(ddp_profile.glob("*.pt.trace.json")):
        split = split_trace(trace)
        assert all(split[part] >= 0 for part in PARTS), split
        assert sum(split[part] for part in PARTS) == pytest.approx(split["step"], rel=1e-9)
        for part in ("forward (and loss)", "backward", "DataLoader wait"):
            assert split[part] > 0, part
        assert split["all-reduce in total"] > 0
        # DataLoader wait, summed here from the trace's own events: the table loses none of it.
        steps = [e for e in events(trace) if e["name"].startswith("ProfilerStep#")]
        loader = [e for e in events(trace) if e["name"].startswith("enumerate(DataLoader)")]
        inside = [e for e in loader if any(s["ts"] <= e["ts"] < s["ts"] + s["dur"] for s in steps)]
        expected = sum(e["dur"] for e in inside) / len(steps) / 1e3
        assert split["DataLoader wait"] == pytest.approx(expected, rel=1e-6)


def test_the_report_command_prints_one_table_per_rank(ddp_profile, capsys):
    assert profile_report.main([str(ddp_profile)]) == 0
    out = capsys.readouterr().out
    traces = len(list(ddp_profile.glob("*.pt.trace.json")))  # 2, or 4 once verify re-ran it
    assert out.count(f"mean of {ACTIVE} steps") == traces >= 2
    for part in (*PARTS, "all-reduce ran"):
        assert out.count(part) == traces, part


def test_profiling_does_not_change_the_trained_weights(single_runs):
    plain, profiled = (json.loads((single_runs / n / "run.json").read_text()) for n in ("plain", "profiled"))  # fmt: skip
    assert profiled["weights_sha256"] == plain["weights_sha256"]
    assert profiled["metrics"] == plain["metrics"]
    (trace,) = (single_runs / "trace").glob("rank0.*.pt.trace.json")
    assert "aten::conv2d" in {e["name"] for e in events(trace)}
    assert split_trace(trace)["all-reduce in total"] == 0  # one process: nothing to all-reduce


def test_bench_profiles_exactly_its_timed_steps(tmp_path):
    args = ["--model", "small", "--device", "cpu", "--rows", "fp32-strict", "--steps", "2",
            "--warmup", "3", "--batch", "8", "--workers", "0"]  # fmt: skip
    assert bench.main([*args, "--out", str(tmp_path / "b"), "--profile", str(tmp_path / "p")]) == 0
    (trace,) = (tmp_path / "p" / "fp32-strict").glob("rank0.*.pt.trace.json")
    names = [e["name"] for e in events(trace)]
    assert "aten::conv2d" in names
    assert sum(n.startswith("ProfilerStep#") for n in names) == 2  # = --steps: warm-up not kept
    assert split_trace(trace)["DataLoader wait"] > 0


def test_too_few_steps_to_profile_are_refused_before_any_work(tmp_path, capsys):
    argv = ["--steps", "2", "--out", str(tmp_path / "o"), "--profile", str(tmp_path / "p")]
    assert train.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --profile needs at least 3 steps"), err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [None, "{not json", '{"traceEvents": []}'])
def test_the_report_refuses_a_folder_without_a_readable_trace(tmp_path, capsys, content):
    if content is not None:
        (tmp_path / "rank0.1.pt.trace.json").write_text(content)
    assert profile_report.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
