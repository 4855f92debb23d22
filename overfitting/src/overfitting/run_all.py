"""Run every experiment of the topic in turn and (with --figures) refresh the slide figures.

`uv run of-all` runs the quick versions (a few minutes in all); `uv run of-all --full --figures`
rebuilds the committed `figures/*.png` that slides.md embeds, at slide quality.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from overfitting.common import write_table
from overfitting.plumbing import OUTPUTS, BadInput, check_out, make_parser, run_at_edge
from overfitting.receipt import atomic_write

# Imported only when run, so `of-all --help` and bad input answer without loading scikit-learn.
EXPERIMENTS = {
    "capacity": "overfitting.capacity",
    "leakage": "overfitting.leakage",
    "reusable_holdout": "overfitting.reusable_holdout",
    "ladder": "overfitting.ladder",
    "seed_lottery": "overfitting.seed_lottery",
    "nested_cv": "overfitting.nested_cv",
    "replicability": "overfitting.replicability",
}
FIGURES = Path(__file__).resolve().parents[2] / "figures"


def run(argv: list[str] | None = None) -> list[dict]:
    """Run the chosen experiments; print how long each took."""
    parser = make_parser(__doc__.splitlines()[0], "")
    parser.add_argument("--only", default=",".join(EXPERIMENTS), help="comma-separated experiments")
    parser.add_argument("--figures", action="store_true", help=f"copy each figure.png to {FIGURES}")
    args = parser.parse_args(argv)
    if args.seed < 0:
        raise BadInput(f"--seed must be >= 0, got {args.seed}")
    chosen = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = sorted(set(chosen) - set(EXPERIMENTS))
    if unknown or not chosen:
        raise BadInput(
            f"unknown experiment {', '.join(unknown) or '(none)'}; choose from {', '.join(EXPERIMENTS)}"
        )
    root = check_out(args.out if str(args.out) not in ("", ".") else OUTPUTS)
    if args.figures:
        check_out(FIGURES, "--figures")
    timings = []
    for name in chosen:
        out = root / name
        extra = ["--full"] if args.full else []
        if name == "reusable_holdout" and args.figures:
            extra += ["--variant", "both"]  # the slide shows both Thresholdouts side by side
        print(f"== {name} ==", flush=True)
        started = time.time()
        importlib.import_module(EXPERIMENTS[name]).run(
            ["--seed", str(args.seed), "--out", str(out), *extra]
        )
        timings.append(
            {"experiment": name, "seconds": round(time.time() - started, 1), "full": args.full}
        )
        if args.figures:
            # The figure, the raw numbers behind it and the receipt of the run that drew it:
            # tests re-run part of it and check the README's numbers against these files.
            for made, kept in (
                ("figure.png", ".png"),
                ("results.npz", ".npz"),
                ("run.json", ".run.json"),
            ):
                atomic_write(FIGURES / f"{name}{kept}", (out / made).read_bytes())
    print(write_table(root, timings, "timings"))
    return timings


def main(argv: list[str] | None = None) -> int:
    """The command line: bad input gives one `error:` line and exit status 2."""
    return run_at_edge(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
