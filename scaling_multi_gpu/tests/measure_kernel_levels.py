"""Maintainer tool: measure every tolerance-bearing difference under three CPU kernel levels.

    uv run python tests/measure_kernel_levels.py [--out DIR] [--levels native,avx2,default]

For each kernel level (native; `ATEN_CPU_CAPABILITY=avx2`; `ATEN_CPU_CAPABILITY=default
MKL_CBWR=COMPATIBLE`; the same with `ONEDNN_MAX_CPU_ISA=AVX2`, as on a CPU without AVX512) it runs, in fresh processes: the equivalence launch (1 vs 2 processes,
accumulation vs 2 processes, the summed-loss bug), `scaling-model-parallel` (TP and PP vs one
process), one process with 1 vs 2 intra-op threads, another seed, and exercise 01's starter and
solution (1 vs 2 processes), and a one-process replay of 2 ranks' gradient averaging step by
step. It prints one JSON object per level and writes them all to
`DIR/kernel_levels.json`. The tolerances in `equivalence.py`, `model_parallel.py` and exercise
01's checker are set from these numbers; `tests/README.md` lists the last measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from safetensors.torch import load_file

TOPIC = Path(__file__).resolve().parents[1]
LEVELS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
    # The default level as an AVX2-only CPU runs it: oneDNN's convolutions capped at AVX2 too.
    "default-onednn-avx2": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_CBWR": "COMPATIBLE",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    },
}
EXERCISE = TOPIC / "exercises" / "01-summed-loss"


def run(cmd: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(TOPIC / "src"), **env}
    for key in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA"):
        if key not in env:
            full.pop(key, None)
    done = subprocess.run(cmd, env=full, capture_output=True, text=True, cwd=TOPIC, **kw)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def max_diff(a: Path, b: Path) -> float:
    x, y = (load_file(p) for p in (a, b))
    return max((x[k] - y[k]).abs().max().item() for k in x)


def measure(level: str, root: Path) -> dict:
    env = LEVELS[level]
    py = sys.executable
    result: dict = {"level": level, "env": env}
    eq = root / "equivalence"
    run([py, "-m", "scaling_multi_gpu.equivalence", "--out", str(eq), "--steps", "30"], env)
    rows = {r["variant"]: r for r in json.loads((eq / "equivalence.json").read_text())}
    result["equivalence"] = {
        k: {
            "max_abs_diff_to_reference": r["max_abs_diff_to_reference"],
            "reference": r["reference"],
            "sha": r["weights_sha256"][:12],
            "acc": r["test_accuracy"],
        }
        for k, r in rows.items()
    }
    result["capability"] = json.loads((eq / "single" / "run.json").read_text())["env"][
        "torch_cpu_capability"
    ]
    seed1 = root / "seed1"
    train = [py, "-m", "scaling_multi_gpu.train", "--strategy", "single", "--device", "cpu"]
    run([*train, "--steps", "30", "--seed", "1", "--out", str(seed1)], {**env, "OMP_NUM_THREADS": "1"})  # fmt: skip
    result["another_seed_vs_single"] = max_diff(
        seed1 / "model.safetensors", eq / "single" / "model.safetensors"
    )

    mp = root / "mp"
    run([py, "-m", "scaling_multi_gpu.model_parallel", "--out", str(mp)], env)
    summary = json.loads((mp / "summary.json").read_text())
    result["model_parallel"] = {
        r["variant"]: {"max_abs_diff_vs_single": r["max_abs_diff_vs_single"], "sha": r["weights_sha256"][:12]}
        for r in summary["variants"]
    }  # fmt: skip
    result["bubble"] = summary["pipeline_bubble"]

    threads = {}
    for n in (1, 2):
        out = root / f"threads{n}"
        run([*train, "--steps", "12", "--out", str(out)],
            {**env, "OMP_NUM_THREADS": str(n), "OMP_WAIT_POLICY": "PASSIVE"})  # fmt: skip
        threads[n] = out
    a, b = (json.loads((threads[n] / "run.json").read_text()) for n in (1, 2))
    result["threads_1_vs_2"] = {
        "bits_differ": a["weights_sha256"] != b["weights_sha256"],
        "max_abs_diff": max_diff(
            threads[1] / "model.safetensors", threads[2] / "model.safetensors"
        ),
    }

    exercise = {}
    for kind, script in (("solution", EXERCISE / "solution" / "ddp_train.py"), ("starter", EXERCISE / "ddp_train.py")):  # fmt: skip
        outs = {}
        for n in (1, 2):
            out = root / f"ex-{kind}-{n}"
            cmd = [py, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", str(script), "--out", str(out)]  # fmt: skip
            run(cmd, {**env, "OMP_NUM_THREADS": "1"})
            outs[n] = out / "model.safetensors"
        exercise[kind] = max_diff(outs[1], outs[2])
    result["exercise01_1_vs_2"] = exercise
    result["replay_per_step"] = replay(env)
    return result


REPLAY = """
import torch, torch.nn.functional as F
from scaling_multi_gpu.data import synthetic_images
from scaling_multi_gpu.models import SmallCNN
torch.set_num_threads(1)
x, y = synthetic_images(2048 + 512, seed=0).tensors
order = torch.randperm(2048, generator=torch.Generator().manual_seed(0))
torch.manual_seed(0); a = SmallCNN()
torch.manual_seed(0); b = SmallCNN()
for step in range(30):
    idx = order[(step * 64) % 2048:][:64]
    a.zero_grad(); F.cross_entropy(a(x[idx]), y[idx]).backward()
    grads = []
    for half in (idx[:32], idx[32:]):
        b.zero_grad(); F.cross_entropy(b(x[half]), y[half]).backward()
        grads.append([p.grad.clone() for p in b.parameters()])
    with torch.no_grad():
        for p, q, g0, g1 in zip(a.parameters(), b.parameters(), *grads):
            p -= 0.05 * p.grad
            q -= 0.05 * (g0 + g1) / 2
    print(max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters())))
"""


def replay(env: dict[str, str]) -> list[float]:
    """1 process vs the average of 2 half-batch gradients (DDP's arithmetic) in ONE process, per
    step: shows when rounding flips a decision (a jump from ~1e-8 to ~1e-5)."""
    return [float(v) for v in run([sys.executable, "-c", REPLAY], env).stdout.split()]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="kernel-levels-")))
    p.add_argument("--levels", default=",".join(LEVELS))
    args = p.parse_args()
    results = []
    for level in args.levels.split(","):
        results.append(measure(level, args.out / level))
        print(json.dumps(results[-1]), flush=True)
    (args.out / "kernel_levels.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {args.out / 'kernel_levels.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
