"""Run every experiment of the topic in turn and (with --figures) refresh the slide figures.

`uv run of-all` runs the quick versions (a few minutes in all); `uv run of-all --full --figures`
rebuilds the committed `figures/*.png` that slides.md embeds, at slide quality.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from overfitting import ladder, leakage, nested_cv, replicability, reusable_holdout, seed_lottery
from overfitting.common import OUTPUTS, UsageError, cli, make_parser, write_table

EXPERIMENTS = {
    "leakage": leakage.run,
    "reusable_holdout": reusable_holdout.run,
    "ladder": ladder.run,
    "seed_lottery": seed_lottery.run,
    "nested_cv": nested_cv.run,
    "replicability": replicability.run,
}
FIGURES = Path(__file__).resolve().parents[2] / "figures"


def run(argv: list[str] | None = None) -> list[dict]:
    """Run the chosen experiments; print how long each took."""
    parser = make_parser(__doc__.splitlines()[0], "")
    parser.add_argument("--only", default=",".join(EXPERIMENTS), help="comma-separated experiments")
    parser.add_argument("--figures", action="store_true", help=f"copy each figure.png to {FIGURES}")
    args = parser.parse_args(argv)
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    chosen = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = sorted(set(chosen) - set(EXPERIMENTS))
    if unknown or not chosen:
        raise UsageError(
            f"unknown experiment {', '.join(unknown) or '(none)'}; choose from {', '.join(EXPERIMENTS)}"
        )
    root = args.out if str(args.out) not in ("", ".") else OUTPUTS
    timings = []
    for name in chosen:
        out = root / name
        extra = ["--full"] if args.full else []
        if name == "reusable_holdout" and args.figures:
            extra += ["--variant", "both"]  # the slide shows both Thresholdouts side by side
        print(f"== {name} ==", flush=True)
        started = time.time()
        EXPERIMENTS[name](["--seed", str(args.seed), "--out", str(out), *extra])
        timings.append(
            {"experiment": name, "seconds": round(time.time() - started, 1), "full": args.full}
        )
        if args.figures:
            FIGURES.mkdir(exist_ok=True)
            # The figure, the raw numbers behind it and the receipt of the run that drew it:
            # tests re-run part of it and check the README's numbers against these files.
            shutil.copyfile(out / "figure.png", FIGURES / f"{name}.png")
            shutil.copyfile(out / "results.npz", FIGURES / f"{name}.npz")
            shutil.copyfile(out / "run.json", FIGURES / f"{name}.run.json")
    print(write_table(root, timings, "timings"))
    return timings


main = cli(run)

if __name__ == "__main__":
    raise SystemExit(main())
