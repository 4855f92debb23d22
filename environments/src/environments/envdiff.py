"""Tell two environment fingerprints apart, most important difference first.

`env-diff a.json b.json` compares two `env-info` records. A different Python or CUDA stack
explains more than a different thread count, which explains more than a bumped package, which
explains more than a different CPU count or path: the output is ordered that way. Exit 0 when
the records agree, 1 when they differ (like `diff`), 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from environments.plumbing import BadInput, OneLineParser, positive_int, read_input, run_at_edge

# Never a difference: when the record was taken.
IGNORED = {"created"}

# Label -> keys, most important first; a key ending in "." covers everything below it.
IMPORTANCE = {
    "python": ["python.version", "python.implementation", "platform.system", "platform.machine"],
    "gpu stack": ["torch.version", "torch.cuda", "torch.cudnn", "torch.nccl", "torch.devices"]
    + ["nvidia_smi"],
    "numerics": ["numeric_env.", "blas.", "torch.num_threads", "torch.deterministic_algorithms"],
    "lockfile": ["lockfile.sha256"],
    "packages": ["packages."],
    "hardware": ["cpu.", "platform.", "torch.cuda_available"],
    "other": [""],
}


def flatten(record: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "l": [x]} -> {"a.b": 1, "l.0": x}: one comparable value per dotted key."""
    if isinstance(record, dict):
        items = record.items()
    elif isinstance(record, list):
        items = ((str(i), v) for i, v in enumerate(record))
    else:
        return {prefix: record}
    flat: dict[str, Any] = {}
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in IGNORED or (not prefix and value is None):
            continue  # a whole section that is null (no torch, no nvidia-smi): its keys are absent
        flat.update(flatten(value, path) if isinstance(value, dict | list) else {path: value})
    return flat


def matches(key: str, pattern: str) -> bool:
    if pattern.endswith(".") or not pattern:
        return key.startswith(pattern)
    return key == pattern or key.startswith(pattern + ".")


def importance(key: str) -> tuple[int, str]:
    """(rank, label) of a dotted key: rank 0 is the most important."""
    for rank, (label, patterns) in enumerate(IMPORTANCE.items()):
        if any(matches(key, p) for p in patterns):
            return rank, label
    return len(IMPORTANCE), "other"


def diff_records(a: dict, b: dict) -> list[dict[str, Any]]:
    """Differences as {key, label, a, b}, most important first ("(absent)" where a key is missing)."""
    fa, fb = flatten(a), flatten(b)
    missing = "(absent)"
    rows = []
    for key in fa.keys() | fb.keys():
        va, vb = fa.get(key, missing), fb.get(key, missing)
        if va != vb:
            rank, label = importance(key)
            rows.append({"rank": rank, "label": label, "key": key, "a": va, "b": vb})
    return sorted(rows, key=lambda r: (r["rank"], r["key"]))


def show(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def load(path: Path) -> dict:
    record = read_input(path, json.loads, "env-info record (JSON)")
    if not isinstance(record, dict) or not str(record.get("schema", "")).startswith("envinfo/"):
        raise BadInput(f"{path} is not an env-info record (no 'schema: envinfo/...')")
    return record


def show_diff(a: Path, b: Path, limit: int) -> int:
    rows = diff_records(load(a), load(b))
    if not rows:
        print("no differences")
        return 0
    print(f"{len(rows)} difference(s), most important first:")
    for row in rows[:limit]:
        print(f"  [{row['label']}] {row['key']}: {show(row['a'])} -> {show(row['b'])}")
    if len(rows) > limit:
        print(f"  ... {len(rows) - limit} more (use --limit)")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-diff", description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="first env-info JSON")
    parser.add_argument("b", type=Path, help="second env-info JSON")
    parser.add_argument(
        "--limit", type=positive_int, default=40, help="show at most this many rows"
    )
    args = parser.parse_args(argv)
    return run_at_edge(lambda: show_diff(args.a, args.b, args.limit))


if __name__ == "__main__":
    sys.exit(main())
