"""Read a torch.profiler trace and split each training step: DataLoader wait, forward, backward,
optimizer, all-reduce - `scaling-profile-report DIR` after `scaling-train --profile DIR`.

A trace (Chrome-trace JSON, one per rank) is a list of events: name, thread, start, duration.
`ProfilerStep#N` spans one step on the training thread. Inside it, the library labels its own
work: `enumerate(DataLoader)#...__next__` (waiting for a batch), `autograd::engine::evaluate_function:
...` (backward), `Optimizer.step#SGD.step`, and the collectives (`gloo:all_reduce` on a CPU,
`nccl:all_reduce` and its kernels on a GPU). Every other op at the top of the training thread
(`DistributedDataParallel.forward`, `aten::conv2d`, the loss) is the forward pass.

DDP all-reduces gradient buckets on a background thread WHILE backward still runs, so the parts
overlap in time. To split the step's wall time, each instant goes to the first part active then:
work on the training thread first, then all-reduce (the part the step had to WAIT for), then
"untraced" (Python between ops). The parts add up to the step; the all-reduce time hidden behind
backward is printed on its own line. With a GPU, the kernels' busy time is shown too: the fraction
of the step in which at least one kernel ran - which is all that nvidia-smi's "utilisation" means.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from pathlib import Path
from typing import Any

from scaling_multi_gpu.plumbing import BadInput, OneLineParser, run_at_edge

PARTS = ("DataLoader wait", "forward (and loss)", "backward", "optimizer", "all-reduce (waited for)",
         "other ops (copies, .item())", "untraced (Python)")  # fmt: skip
# Collectives as torch records them: gloo:all_reduce (CPU), nccl:all_reduce + ncclDevKernel_AllReduce
# (GPU), c10d::allreduce_, and DDP's own bucket copies (torch.distributed.ddp.reducer::...).
COMM = re.compile(r"(?i)all_?reduce|reduce_?scatter|all_?gather|^nccl|^gloo|c10d::|ddp\.reducer")
OTHER = {"aten::item", "aten::_local_scalar_dense", "aten::to", "aten::_to_copy", "aten::copy_",
         "aten::as_strided", "aten::ones_like", "aten::chunk"}  # fmt: skip


def part_of(name: str) -> str:
    """Which part of the step an event at the top of the training thread belongs to."""
    if name.startswith("enumerate(DataLoader)"):
        return "DataLoader wait"
    if name.startswith("autograd::engine::evaluate_function"):
        return "backward"
    if name.startswith("Optimizer."):
        return "optimizer"
    if COMM.search(name):
        return "all-reduce (waited for)"
    return "other ops (copies, .item())" if name in OTHER else "forward (and loss)"


def load_trace(path: Path) -> list[dict[str, Any]]:
    """The complete ('X') events of one trace file, or BadInput naming what is wrong with it."""
    try:
        events = json.loads(path.read_bytes())["traceEvents"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path} is not a torch.profiler trace ({type(exc).__name__}: {exc})") from None  # fmt: skip
    return [e for e in events if isinstance(e, dict) and e.get("ph") == "X" and "dur" in e]


def top_level(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events not nested in another one (one thread's events nest like function calls)."""
    kept, end = [], float("-inf")
    for e in sorted(events, key=lambda e: (e["ts"], -e["dur"])):
        if e["ts"] >= end:
            kept.append(e)
            end = e["ts"] + e["dur"]
    return kept


def merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The same time as disjoint, sorted intervals (overlaps merged)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def covering(intervals: list[tuple[float, float, str]], t: float) -> str | None:
    """The label of the disjoint, sorted interval holding time t, if any."""
    i = bisect.bisect_right(intervals, (t, float("inf"), "")) - 1
    return intervals[i][2] if i >= 0 and intervals[i][0] <= t < intervals[i][1] else None


def split_step(step: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds of one step per part (they add up to the step), plus communication totals."""
    s, e = step["ts"], step["ts"] + step["dur"]
    inside = [x for x in events if x is not step and x["ts"] < e and x["ts"] + x["dur"] > s]
    clip = lambda x: (max(x["ts"], s), min(x["ts"] + x["dur"], e))  # noqa: E731
    main = top_level([x for x in inside if x["tid"] == step["tid"] and x.get("cat") != "kernel"])
    labelled = [(*clip(x), part_of(x["name"])) for x in main]  # disjoint: they do not nest
    comm = merged([clip(x) for x in inside if x["tid"] != step["tid"] and COMM.search(x["name"])])
    waiting = [(a, b, "all-reduce (waited for)") for a, b in comm]
    cuts = sorted(
        {s, e, *(t for a, b, _ in labelled for t in (a, b)), *(t for c in comm for t in c)}
    )
    result = dict.fromkeys(PARTS, 0.0)
    for a, b in itertools.pairwise(cuts):  # each elementary piece of the step goes to ONE part
        mid = (a + b) / 2
        owner = covering(labelled, mid) or covering(waiting, mid) or "untraced (Python)"
        result[owner] += b - a
    result["step"] = e - s
    result["all-reduce in total"] = sum(b - a for a, b in comm)
    kernels = merged([clip(x) for x in inside if x.get("cat") == "kernel"])
    result["GPU kernels running"] = sum(b - a for a, b in kernels) if kernels else float("nan")
    return result


def split_trace(path: Path) -> dict[str, float]:
    """Mean milliseconds per kept step, per part, for one trace file."""
    events = load_trace(path)
    steps = [x for x in events if x["name"].startswith("ProfilerStep#")]
    if not steps:
        raise BadInput(f"{path} holds no ProfilerStep# (was prof.step() called after each step?)")
    splits = [split_step(step, events) for step in steps]
    mean = {k: sum(s[k] for s in splits) / len(splits) / 1e3 for k in splits[0]}
    return {"steps kept": len(splits), **mean}


def render(name: str, split: dict[str, float]) -> str:
    step = split["step"]
    lines = [f"{name}: mean of {split['steps kept']} steps", f"{'part':<30}{'ms/step':>10}{'share':>9}"]  # fmt: skip
    for part in (*PARTS, "step"):
        lines.append(f"{part:<30}{split[part]:>10.2f}{100 * split[part] / step:>8.1f}%")
    hidden = split["all-reduce in total"] - split["all-reduce (waited for)"]
    lines.append(f"all-reduce ran {split['all-reduce in total']:.2f} ms/step, {hidden:.2f} ms of it hidden behind compute")  # fmt: skip
    if split["GPU kernels running"] == split["GPU kernels running"]:  # not NaN: a GPU trace
        busy = 100 * split["GPU kernels running"] / step
        lines.append(f"GPU: at least one kernel running {busy:.1f}% of the step (nvidia-smi's 'utilisation')")  # fmt: skip
    return "\n".join(lines)


def trace_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder (give the DIR of --profile DIR)")
    found = sorted(folder.rglob("*.pt.trace.json"))
    if not found:
        raise BadInput(f"no *.pt.trace.json under {folder} (run scaling-train --profile {folder})")
    return found


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", type=Path, help="the folder given to --profile (its traces, any depth)")
    args = p.parse_args(argv)

    def body() -> None:
        files = trace_files(args.dir)
        splits = [(f.relative_to(args.dir), split_trace(f)) for f in files]  # all read, then print
        print("\n\n".join(render(str(name), split) for name, split in splits))

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
