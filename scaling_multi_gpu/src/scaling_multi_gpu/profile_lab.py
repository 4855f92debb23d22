"""Where a training step's time goes: torch.profiler around the loop, then a table read from its trace.

`scaling-train --profile DIR` (and `scaling-bench --profile DIR`) wrap the training loop in
`torch.profiler.profile` with a schedule: skip `WAIT` steps, record `WARMUP` steps and throw them
away (the first steps allocate memory and pick kernels), then keep `ACTIVE` steps. Each rank writes
one Chrome-trace JSON with `tensorboard_trace_handler`; open it in https://ui.perfetto.dev or
chrome://tracing, or let `scaling-profile-report DIR` (profile_report.py) split each step into
DataLoader wait, forward, backward, optimizer and all-reduce.

Why not `nvidia-smi`? Its "GPU-Util" is the fraction of the last sample period (1/6 s to 1 s) in
which AT LEAST ONE kernel was running on the GPU - not how much of the GPU that kernel used. One
tiny kernel on one of 132 multiprocessors, back to back, reads 100 %. A trace shows what ran, for
how long, and what the GPU was waiting for (the DataLoader, the all-reduce, Python).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

from scaling_multi_gpu.plumbing import BadInput

WAIT, WARMUP, ACTIVE = 1, 1, 3  # steps skipped, recorded-and-discarded, kept


class NoProfiler:
    """Stands in for the profiler when --profile is not given: `with` and `.step()` do nothing."""

    def __enter__(self) -> NoProfiler:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def step(self) -> None:
        return None


NO_PROFILER = NoProfiler()


def check_profile_steps(steps: int, wait: int = WAIT) -> None:
    """Refuse, before any work, a run too short for the profiler's schedule to keep a step."""
    if steps < wait + WARMUP + 1:
        raise BadInput(f"--profile needs at least {wait + WARMUP + 1} steps (skip {wait}, warm up {WARMUP}, keep 1)")  # fmt: skip


def step_profiler(
    out: Path | None, rank: int, steps: int, wait: int = WAIT
) -> profile | NoProfiler:
    """A profiler recording `ACTIVE` steps (fewer if the run is shorter) into out/rank<N>.*.json.

    Call `.step()` after every training step: the schedule counts them. The profiler observes,
    it does not change what runs: the trained weights are bit-identical with and without it.
    """
    if out is None:
        return NoProfiler()
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)  # the kernels, as the GPU ran them
    else:  # a CUDA build of torch on a machine without a GPU logs "gpuGetDeviceCount failed"
        os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    active = min(ACTIVE, steps - wait - WARMUP)
    return profile(
        activities=activities,
        schedule=schedule(wait=wait, warmup=WARMUP, active=active, repeat=1),
        on_trace_ready=tensorboard_trace_handler(str(out), worker_name=f"rank{rank}"),
        record_shapes=True,  # input shapes per op: which conv, on what batch
    )
