"""A W&B sweep, configured the way W&B documents it, run offline by the loop a sweep replaces.

    tracking-sweep                              # the grid in sweep.yaml: 3 learning rates x 2 seeds
    tracking-sweep --epochs 2 --out outputs/sweep

With an account, `wandb sweep sweep.yaml` stores the sweep on W&B's server and each
`wandb agent <id>` asks that server for its next settings. Offline there is no server to ask:
`wandb.sweep` needs an API key, and even W&B's local controller (`wandb.controller()` with
`configure_controller(type="local")`) keeps the sweep on the server and needs `wandb[sweeps]`.
So here the same YAML's grid is expanded by hand, each point is an offline W&B run in one
group, and every run is read back with W&B's own reader before the best is chosen.
"""

from __future__ import annotations

import itertools
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from model_tracking.config import TrainConfig, validate
from model_tracking.plumbing import BadInput, check_writable_folder, parser_for, run_at_edge
from model_tracking.readback import read_wandb_offline
from model_tracking.receipt import TOPIC_ROOT, write_json_atomic
from model_tracking.train import run_training

SWEEP_FILE = TOPIC_ROOT / "sweep.yaml"
SETTINGS = ("lr", "seed", "epochs", "batch_size", "hidden")  # what a sweep may vary


def load_sweep(path: Path) -> dict[str, Any]:
    """The sweep configuration, refused in one line if this loop cannot run it as W&B would."""
    try:
        sweep = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"--config {path}: cannot read a sweep from it ({exc})") from None
    if not isinstance(sweep, dict) or sweep.get("method") != "grid":
        raise BadInput(f"--config {path}: this offline loop runs `method: grid` sweeps only")
    metric = sweep.get("metric") or {}
    if metric.get("goal") not in ("maximize", "minimize") or not metric.get("name"):
        raise BadInput(f"--config {path}: `metric` needs a `name` and a `goal`")
    parameters = sweep.get("parameters")
    if not isinstance(parameters, dict) or not parameters or set(parameters) - set(SETTINGS):
        raise BadInput(f"--config {path}: parameters must be some of {', '.join(SETTINGS)}")
    for name, spec in parameters.items():
        values = spec.get("values", [spec.get("value")]) if isinstance(spec, dict) else [None]
        if not values or not all(type(v) in (int, float) for v in values):
            raise BadInput(f"--config {path}: {name} needs numbers as `values` or a `value`")
    return sweep


def grid(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the parameters' `values` (a fixed `value` counts as one), in order."""
    names = list(sweep["parameters"])
    choices = [
        spec["values"] if "values" in spec else [spec["value"]]
        for spec in sweep["parameters"].values()
    ]
    return [dict(zip(names, point, strict=True)) for point in itertools.product(*choices)]


def run_sweep(sweep: dict[str, Any], out: Path, overrides: dict[str, Any]) -> list[dict]:
    """Run every grid point as an offline W&B run; return what W&B's reader gives back."""
    group = f"sweep-{uuid.uuid4().hex[:8]}"  # W&B groups a sweep's runs; offline, we name it
    configs = [
        TrainConfig(**{**point, **overrides}, trackers=("wandb",), wandb_group=group,
                    out=out / "-".join(f"{k}{v}" for k, v in point.items()))
        for point in grid(sweep)
    ]  # fmt: skip
    for config in configs:  # every run checked before the first one starts
        validate(config)
    rows = []
    for config in configs:
        run_training(config)
        record = read_wandb_offline(config.out / "wandb")
        rows.append(
            {**{k: record["config"][k] for k in sweep["parameters"]}, "group": record["group"],
             sweep["metric"]["name"]: record["summary"][sweep["metric"]["name"]],
             "test_accuracy": record["summary"]["test_accuracy"],
             "run_dir": str(record["run_dir"].relative_to(out))}
        )  # fmt: skip
    metric, goal = sweep["metric"]["name"], sweep["metric"]["goal"]
    return sorted(rows, key=lambda row: row[metric], reverse=goal == "maximize")


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, prog="tracking-sweep")
    parser.add_argument("--config", type=Path, default=SWEEP_FILE, help="W&B sweep YAML")
    parser.add_argument("--epochs", type=int, default=None, help="override the sweep's epochs")
    parser.add_argument("--out", type=Path, default=Path("outputs/sweep"))
    args = parser.parse_args(argv)

    def body() -> int:
        started = time.perf_counter()
        sweep = load_sweep(args.config)
        check_writable_folder(args.out, "--out")
        if args.out.exists() and any(args.out.iterdir()):
            raise BadInput(f"--out {args.out} is not empty: give a new folder for each sweep")
        overrides = {} if args.epochs is None else {"epochs": args.epochs}
        rows = run_sweep(sweep, args.out, overrides)
        write_json_atomic(args.out / "sweep.json", {"sweep": sweep, "runs": rows})
        metric = sweep["metric"]["name"]
        print(f"{len(rows)} offline W&B runs in group {rows[0]['group']}, best first by {metric}:")
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items() if k != "group"))
        print(f"upload later: uv run wandb sync {args.out}/*/wandb/offline-run-*")
        print(f"table: {args.out / 'sweep.json'}; took {time.perf_counter() - started:.1f} s")
        return 0

    return run_at_edge(body, prog="tracking-sweep")


if __name__ == "__main__":
    sys.exit(main())
