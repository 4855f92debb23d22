"""The headline demo: what is this machine, then the same model from 1 process and from 2 processes
with DDP, FSDP and DeepSpeed ZeRO-1/2/3 - compared weight by weight (see equivalence.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from scaling_multi_gpu import hwinfo, kernels
from scaling_multi_gpu.equivalence import TOLERANCE, render, run_equivalence
from scaling_multi_gpu.plumbing import BadInput, OneLineParser, check_out, run_at_edge


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
        rows = run_equivalence(
            args.out, nproc=2, steps=args.steps, figure=args.figure or args.out / "equivalence.png"
        )
        # Hashes and error sizes belong to the kernels that computed them: say which.
        print(f"\nfingerprint: {kernels.label(kernels.fingerprint())}")
        print(render(rows))
        print(
            f"\nbitwise equal to DDP: {', '.join(r['variant'] for r in rows if r['bitwise_equal_to_ddp'])}"
        )
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
