"""The headline demo: what is this machine, then the same model from 1 process and from 2 processes
with DDP, FSDP and DeepSpeed ZeRO-1/2/3 - compared weight by weight.

Read it top to bottom: the one-process references are trained in this process; ONE torchrun launch
runs train.py on 2 ranks, strategy after strategy; train.py hands the model to
strategies.wrap_model, where `DDP(model)`, `fully_shard(model)` and `deepspeed.initialize(...)`
are called. What is compared, and why these tolerances, is in equivalence.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from scaling_multi_gpu import hwinfo, kernels
from scaling_multi_gpu.config import TrainConfig
from scaling_multi_gpu.equivalence import (
    DISTRIBUTED_VARIANTS,
    TOLERANCE,
    compare,
    launch,
    launch_args,
    plot,
    render,
    train_single_reference,
)
from scaling_multi_gpu.plumbing import BadInput, OneLineParser, check_out, run_at_edge
from scaling_multi_gpu.receipt import atomic_write


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("outputs/demo"))
    p.add_argument(
        "--figure",
        type=Path,
        default=None,
        help="where to write the equivalence chart (default: <out>/equivalence.png)",
    )
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args(argv)

    def body() -> int:
        started = time.time()
        # Check both paths now: the runs below take a minute, a bad path must not wait for them.
        check_out(args.out)
        check_out(args.figure, "--figure", kind="png")
        if args.steps < 1:
            raise BadInput("--steps must be positive")
        print(hwinfo.render(hwinfo.collect()), "\n")

        # 1. One process, here: `single`, `single-sum` and `single-accum2` (2 micro-batches of 32).
        train_single_reference(args.out, replace(TrainConfig(), steps=args.steps, seed=0))
        # 2. Two processes: `torchrun --standalone --nproc-per-node=2 -m scaling_multi_gpu.train
        #    --strategy ddp,fsdp,zero1,zero2,zero3,ddp:sum`. Each rank runs train.py, whose
        #    train_one calls strategies.wrap_model: `DDP(model)` for ddp, `fully_shard` for fsdp.
        launch(2, DISTRIBUTED_VARIANTS, args.out, launch_args(args.steps, seed=0))
        # 3. Weight by weight: bitwise equal to DDP? How far from the one-process model?
        rows = compare(args.out)
        atomic_write(args.out / "equivalence.json", json.dumps(rows, indent=2) + "\n")
        plot(rows, args.figure or args.out / "equivalence.png")

        # Hashes and error sizes belong to the kernels that computed them: say which.
        print(f"\nfingerprint: {kernels.label(kernels.fingerprint())}")
        print(render(rows))
        equal = ", ".join(r["variant"] for r in rows if r["bitwise_equal_to_ddp"])
        print(f"\nbitwise equal to DDP: {equal}")
        print(
            f"tolerance vs 1 process: {TOLERANCE:g}; the sum-reduced loss is caught by the weight check, not by accuracy"
        )
        print(
            f"done in {time.time() - started:.0f} s; receipts under {args.out}/<variant>/run.json"
        )
        return 0

    return run_at_edge(body)


if __name__ == "__main__":
    raise SystemExit(main())
