"""Same code, same seed, another machine: why your `weights_sha256` is not the one in the README.

`mt-drift` trains the headline model (`mt-train`) a few times on this one laptop, each time as if
on another machine, and lets the receipt's `compare` say what changed:

- torch told to use other CPU kernels (`ATEN_CPU_CAPABILITY`): what an older or newer CPU does;
- Intel MKL told to take another code path (`MKL_CBWR`): what another CPU vendor or MKL does;
- two CPU threads instead of one: a matrix product split in two sums in another order;
- both of the first two at their most basic (`ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE`).

Each "machine" is a fresh process, because torch and MKL read these settings once, at start-up.
The weights end up a few 1e-7 apart: a new `weights_sha256`, the same test accuracy. For scale, a
last row changes the seed instead. Each row records its fingerprint, the receipt fields that
decide the bits: a machine with the same fingerprint gets the same hash. Run: `uv run mt-drift`
(it prints how long it took). Writes `drift.md` (the table), `drift.json`, `drift.png` and one
`machines/<row>/run.json` per row.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from tqdm import tqdm

from modular_training.data import load_splits
from modular_training.plots import save_figure
from modular_training.plumbing import BadInput, OneLineParser, check_out
from modular_training.receipt import TOPIC_ROOT, atomic_write, write_json_atomic
from modular_training.receipt_tools import (
    DEFAULT_ATOL,
    compare_receipts,
    load_receipt,
    script_argv,
)

# The receipt fields that decide the headline's bits, as the table shows them. Measured: an AVX2
# CPU of the same vendor gives exactly the bits of this CPU told ATEN_CPU_CAPABILITY=avx2, so the
# kernel level torch *uses* counts, not the one the CPU could do best (shown, but not matched).
SHARED = ["machine", "cpu_vendor", "device", "torch", "lock_sha256"]  # the same in every row
PER_ROW = ["torch_cpu_capability", "MKL_CBWR", "torch_threads", "seed"]


def count_test_images() -> int:
    """How many images the headline is tested on: the test split's size, one image = 1/n of accuracy."""
    return len(load_splits().y_test)


def fingerprint(receipt: dict) -> dict[str, str]:
    """The fields of a receipt that decide a headline run's bits, as short strings."""
    env = receipt["env"]
    facts = {
        **{k: env[k] for k in ("machine", "cpu_vendor", "device", "torch")},
        "lock_sha256": (receipt["lock_sha256"] or "")[:12],
        **{k: env[k] for k in ("torch_cpu_capability", "MKL_CBWR", "torch_threads")},
        "seed": receipt["seed"],
    }
    return {k: "-" if v is None else str(v) for k, v in facts.items()}


def native_capability() -> str:
    """The ATen kernel level this CPU gets when nothing caps it ("AVX512", "AVX2", "DEFAULT")."""
    if "ATEN_CPU_CAPABILITY" not in os.environ:
        return torch.backends.cpu.get_cpu_capability()
    # torch read the cap at start-up: ask a fresh process that has none.
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    ask = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    done = subprocess.run([sys.executable, "-c", ask], env=env, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def another_dispatch(native: str | None = None) -> str | None:
    """An ATEN_CPU_CAPABILITY below the one torch picks on this CPU (None if there is none)."""
    return {"AVX512": "avx2", "AVX2": "default"}.get(native or native_capability())


def machines(cuda: bool = False, native: str | None = None) -> list[dict]:
    """The rows: a name, the environment that makes this laptop "another machine", extra options."""
    rows = [{"name": "this machine", "env": {}, "args": []}]
    if (aten := another_dispatch(native)) is not None:
        rows.append({"name": f"ATen {aten}", "env": {"ATEN_CPU_CAPABILITY": aten}, "args": []})
    rows.append({"name": "MKL compatible", "env": {"MKL_CBWR": "COMPATIBLE"}, "args": []})
    basic = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}  # the plainest kernels
    rows.append({"name": "ATen default + MKL compatible", "env": basic, "args": []})
    # PASSIVE: idle OpenMP threads sleep instead of spinning; on 2 busy cores spinning threads
    # can slow training 20-fold. It changes only how threads wait, not what they compute.
    two_threads = {"OMP_WAIT_POLICY": "PASSIVE"}
    rows.append({"name": "2 threads", "env": two_threads, "args": ["--threads", "2"]})
    if cuda:  # the same run on the GPU: other kernels, other sums
        rows.append({"name": "cuda", "env": {}, "args": ["--trainer.accelerator=gpu"]})
    rows.append({"name": "seed 1 (for scale)", "env": {}, "args": ["--seed_everything", "1"]})
    return rows


def slug(name: str) -> str:
    """A folder name for a row: "seed 1 (for scale)" -> "seed-1"."""
    return "-".join(name.split(" (")[0].lower().split())


def train(row: dict, out: Path) -> Path:
    """One `mt-train` run in a fresh process with this row's settings; returns its run.json."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}
    env.update(row["env"])
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TOPIC_ROOT / "src"), env.get("PYTHONPATH")])
    )
    argv = script_argv("mt-train", ["--out", str(out), *row["args"]])
    done = subprocess.run(argv, cwd=TOPIC_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"mt-train for {row['name']!r} exited {done.returncode}: {last[0]}")
    return out / "run.json"


def drift_table(rows: list[dict], receipts: list[Path]) -> list[dict]:
    """Each row against the first: hash, accuracy, max |Δw| and the fields compare names."""
    first = receipts[0]
    table = []
    for row, path in zip(rows, receipts, strict=True):
        receipt = load_receipt(path)
        cmp = compare_receipts(first, path)
        table.append(
            {
                "machine": row["name"],
                "settings": settings(row),
                "fingerprint": fingerprint(receipt),
                "weights_sha256": receipt["weights_sha256"],
                "test_accuracy": receipt["metrics"]["test_accuracy"],
                "max_abs_diff": cmp.max_abs_diff,
                "verdict": cmp.verdict,
                "cause": [f"{k}: {a} -> {b}" for k, a, b in cmp.causes if k != "command"],
                "receipt": str(path),
            }
        )
    return table


def settings(row: dict) -> str:
    """What makes the row another machine, as you would type it."""
    env = [f"{k}={v}" for k, v in row["env"].items() if k != "OMP_WAIT_POLICY"]
    return " ".join([*env, *row["args"]]) or "(nothing set)"


def key_values(facts: dict[str, str], keys: list[str]) -> str:
    return " ".join(f"{k}={facts[k]}" for k in keys)


def markdown(table: list[dict], images: int, native: str, cpu_model: str | None) -> str:
    """The table, headed by the fingerprint fields every row shares (`key=value`, as in run.json)."""
    first = table[0]["fingerprint"]
    shared = [k for k in first if all(r["fingerprint"][k] == first[k] for r in table)]
    per_row = [k for k in first if k not in shared]
    lines = [
        f"Fingerprint of every row: `{key_values(first, shared)}` "
        f"(CPU {cpu_model or 'unknown'}, native ATen capability {native}).",
        "",
        "| machine | settings | fingerprint | weights_sha256 | test accuracy "
        "| max abs Δw vs first | compare says |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        delta = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        cause = "; ".join(r["cause"]) or "-"
        acc = f"{r['test_accuracy']:.4f} ({round(r['test_accuracy'] * images)}/{images})"
        lines.append(
            f"| {r['machine']} | {r['settings']} | `{key_values(r['fingerprint'], per_row)}` "
            f"| `{r['weights_sha256'][:12]}` | {acc} | {delta} | {r['verdict']}: {cause} |"
        )
    return "\n".join(lines) + "\n"


def plot(table: list[dict], path: Path) -> Path:
    """max |Δw| per row on a log axis: machines move weights by ~1e-7, a new seed by ~1e-1."""
    import matplotlib.pyplot as plt

    rows = table[1:]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.4))
    values = [r["max_abs_diff"] or 0.0 for r in rows]
    colors = ["tab:gray" if "seed" in r["machine"] else "tab:blue" for r in rows]
    ax.barh([r["machine"] for r in rows], values, color=colors)
    ax.set_xscale("log")
    ax.set_xlim(1e-9, 10)
    for i, r in enumerate(rows):
        label = f" {r['weights_sha256'][:8]}  acc {r['test_accuracy']:.4f}"
        ax.text(values[i], i, label, va="center", fontsize=8)
    ax.axvline(DEFAULT_ATOL, ls="--", color="tab:red")
    ax.text(DEFAULT_ATOL, len(rows) - 0.5, " compare's tolerance", color="tab:red", fontsize=8)
    ax.invert_yaxis()
    first = table[0]
    ax.set_xlabel(
        f"max |Δw| against '{first['machine']}' ({first['weights_sha256'][:8]}, "
        f"acc {first['test_accuracy']:.4f}), log scale"
    )
    ax.set_title("same code, same seed, another machine")
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="mt-drift", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/drift"))
    parser.add_argument("--cuda", action="store_true", help="add a row trained on the GPU")
    parser.add_argument("--figures", action="store_true", help="also copy drift.png to figures/")
    args = parser.parse_args(argv)
    if args.cuda and not torch.cuda.is_available():
        parser.error("--cuda needs a CUDA GPU that torch can use; none is visible")
    started = time.time()
    try:
        check_out(args.out)
    except BadInput as exc:
        parser.error(str(exc))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    native = native_capability()
    rows = machines(cuda=args.cuda, native=native)
    # Two at a time: each run uses one thread (two for the "2 threads" row) on a 2-core laptop.
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(train, r, out / "machines" / slug(r["name"])) for r in rows]
        try:
            receipts = [j.result() for j in tqdm(jobs, desc="machines", unit="run")]
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    table = drift_table(rows, receipts)
    images, seconds = count_test_images(), round(time.time() - started, 1)
    cpu_model = load_receipt(receipts[0])["env"]["cpu_model"]
    text = markdown(table, images, native, cpu_model)
    summary = {"rows": table, "test_images": images, "native_capability": native}
    write_json_atomic(out / "drift.json", {**summary, "cpu_model": cpu_model, "seconds": seconds})
    atomic_write(out / "drift.md", text)
    plot(table, out / "drift.png")
    if args.figures:  # the slide's copy
        shutil.copyfile(out / "drift.png", TOPIC_ROOT / "figures" / "drift.png")
    print(text)
    print(f"{len(rows)} mt-train runs, two at a time, in {seconds:.0f} s")
    print(f"wrote {out}/drift.md, drift.json, drift.png")
    print(
        "Your own weights_sha256 differs? Run: uv run python -m modular_training.receipt compare "
    )
    print(f"  {receipts[0]} YOUR/run.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
