"""Reading run receipts: compare two, re-run one (verify), check one (validate); the facts env reads.

    python -m <topic>.receipt compare A/run.json B/run.json   # IDENTICAL / WITHIN TOLERANCE / DIFFERENT, and why
    python -m <topic>.receipt verify RUN.json                 # re-run the recorded command, then compare
    python -m <topic>.receipt validate RUN.json               # every documented field, of the right type?

receipt.py writes receipts; this file reads them. Both are byte-identical in every topic (a root
test checks it). A receipt is a file a person can edit, so every field is checked by type once
(`receipt_problems`) before any command uses it: a hand-edited receipt is one `error:` line.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .receipt import FINGERPRINT, KERNEL_VARS, RECEIPT_FIELDS, TOPIC, TOPIC_ROOT, out_value

# Libraries that are not direct dependencies of a topic but whose version can change numbers.
INDIRECT_LIBRARIES = ["numpy", "scipy", "torchdata", "torchvision", "threadpoolctl"]
DEFAULT_ATOL = 1e-2  # max |Δw|: other kernels moved weights <= 9e-4, another seed >= 0.46
DEFAULT_METRIC_ATOL = 0.01  # e.g. 2.7 of the 270 test images of modular_training's split

# ----------------------------------------------------------------------------- facts env_info reads


def cpu_model_vendor() -> tuple[str | None, str | None]:
    """CPU model and vendor: the same code takes other kernels on another CPU."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # macOS, Windows: fewer facts, never an error
        return platform.processor() or None, None
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    vendor = re.search(r"^vendor_id\s*:\s*(.+)$", info, re.MULTILINE)
    return (model and model.group(1).strip()), (vendor and vendor.group(1).strip())


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def requirement_name(spec: str) -> str:
    """`jsonargparse[signatures]>=4.35` -> `jsonargparse`, by packaging's rules where installed."""
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:
        return re.match(r"[A-Za-z0-9_.-]*", spec).group(0).lower()
    return canonicalize_name(Requirement(spec).name)


def library_versions(names: list[str] | None = None) -> dict[str, str | None]:
    """Versions of `names`, by default the topic's direct dependencies and a few numeric ones."""
    if names is None:
        try:
            pyproject = tomllib.loads((TOPIC_ROOT / "pyproject.toml").read_text())
            names = [requirement_name(d) for d in pyproject["project"]["dependencies"]]
        except (OSError, KeyError, ValueError):  # ValueError: tomllib's and packaging's errors
            names = []
        names += [n for n in INDIRECT_LIBRARIES if n not in names and n in sys.modules]
        names = [n for n in names if n != "torch"]  # torch has its own field
    return {n: _version(n) for n in sorted(set(names))}


def threadpools() -> list[dict[str, Any]] | None:
    """The BLAS/OpenMP libraries loaded (threadpoolctl): API, version, threads, architecture."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # the topic has no threadpoolctl: torch_threads still says a lot
        return None
    keep = ["user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture"]
    return sorted(({k: p.get(k) for k in keep} for p in threadpool_info()), key=str)


def gpu_facts(torch: Any, device: str) -> dict[str, Any]:
    """The GPU's name, driver, CUDA, cuDNN and TF32 flags; all None on a CPU run."""
    facts = dict.fromkeys(["gpu_name", "gpu_driver", "cuda", "cudnn", "tf32_matmul", "tf32_cudnn"])
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return facts
    query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
    try:
        driver = subprocess.run(query, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        driver = ""
    return facts | {
        "gpu_name": torch.cuda.get_device_name(torch.device(device)),
        "gpu_driver": driver.split("\n")[0].strip() or None,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
    }


# ----------------------------------------------------------------------------- validate

# The fields that can change a run's bits, by kind; `compare` lists differences in CAUSE_ORDER.
CAUSES = dict.fromkeys(["torch_cpu_capability", "ATEN_CPU_CAPABILITY", "MKL_CBWR"], "kernels")
CAUSES |= dict.fromkeys(["ONEDNN_MAX_CPU_ISA"], "kernels")
CAUSES |= dict.fromkeys(["torch_threads", "OMP_NUM_THREADS", "MKL_NUM_THREADS"], "threads")
CAUSES |= dict.fromkeys(["threadpools", "world_size"], "threads")
CAUSES |= dict.fromkeys(["deterministic_algorithms", "CUBLAS_WORKSPACE_CONFIG"], "determinism")
CAUSES |= dict.fromkeys(["PYTHONHASHSEED"], "determinism")
CAUSES |= dict.fromkeys(["device", "gpu_name", "gpu_driver", "cuda", "cudnn"], "gpu")
CAUSES |= dict.fromkeys(["tf32_matmul", "tf32_cudnn"], "gpu")
CAUSES |= dict.fromkeys(["cpu_model", "cpu_vendor"], "cpu")
CAUSES |= dict.fromkeys(["python", "torch"], "libraries")  # and every other library version
CAUSES = {f"env.{k}": kind for k, kind in CAUSES.items()}
CAUSES |= {"data_sha256": "data", "lock_sha256": "data", "seed": "config", "command": "config"}
CAUSE_ORDER = ["kernels", "threads", "determinism", "gpu", "cpu", "libraries", "data", "config"]
CAUSE_ORDER += ["git"]
# What each field must hold; `receipt_problems` checks a receipt against it.
_STR, _NONE, _NUM = (str,), (type(None),), (int, float)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "topic": _STR,
    "command": (list,),
    "out": _STR + _NONE,
    "rerun": (dict, type(None)),
    "seed": (int, type(None)),
    "config": (dict, type(None)),
    "git": (dict, type(None)),
    "lock_sha256": _STR + _NONE,
    "data_sha256": _STR + _NONE,
    "env": (dict,),
    "metrics": (dict,),
    "measurements": (dict,),
    "weights_sha256": _STR + _NONE,
    "weights_file": _STR + _NONE,
    "seconds": _NUM + _NONE,
}
# Fields every command here needs; the others may be missing from receipts older than them.
NEEDED = ["topic", "command", "env", "metrics", "weights_sha256"]
ADDED_LATER = ["out", "measurements"]  # a receipt written before them is still complete


class ReceiptError(ValueError):
    """A file that is not a receipt, or two receipts that cannot be compared."""


def receipt_problems(receipt: Any, *, complete: bool = True) -> list[str]:
    """What is missing or of the wrong type (empty = a valid receipt); the one check all use.

    `complete=False` accepts a receipt that lacks the fields added after it was written.
    """
    if not isinstance(receipt, dict):
        return ["not a JSON object"]
    names = [k for k in RECEIPT_FIELDS if k not in ADDED_LATER] if complete else NEEDED
    problems = [f"missing field {k!r}" for k in names if k not in receipt]
    for key, types in FIELD_TYPES.items():
        value = receipt.get(key)
        if key in receipt and (not isinstance(value, types) or isinstance(value, bool)):
            kinds = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            problems.append(f"{key} is {type(value).__name__}, not {kinds}")
    command = receipt.get("command")
    if isinstance(command, list) and (not command or not all(isinstance(a, str) for a in command)):
        problems.append("command is not a non-empty list of strings")
    rerun = receipt.get("rerun")
    if isinstance(rerun, dict):
        for key in ("cwd", "out_option", "receipt"):
            if not isinstance(rerun.get(key), str) or not rerun.get(key):
                problems.append(f"rerun.{key} is missing or not a string")
    if isinstance(receipt.get("env"), dict) and complete:
        problems += [f"missing env field {k!r}" for k in FINGERPRINT if k not in receipt["env"]]
    return problems


def load_receipt(path: Path, *, complete: bool = False) -> dict[str, Any]:
    """Read a run.json; a missing file, or one that is not a usable receipt, is a ReceiptError."""
    path = Path(path)
    try:
        receipt = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReceiptError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReceiptError(f"{path}: not a JSON receipt ({exc})") from None
    if problems := receipt_problems(receipt, complete=complete):
        raise ReceiptError(f"{path}: not a run receipt: {'; '.join(problems)}")
    return receipt


def validate_receipt(receipt: dict[str, Any]) -> list[str]:
    """The documented fields that are missing or of the wrong type (empty = a valid receipt)."""
    return receipt_problems(receipt, complete=True)


# ----------------------------------------------------------------------------- compare


def program(receipt: dict[str, Any]) -> str:
    """What ran, without its options: `mt-train`, or the module after `python -m`/`torchrun -m`."""
    cmd = receipt["command"]
    if cmd[0] in ("python", "torchrun") and "-m" in cmd[:-1]:  # torchrun [opts] -m module ...
        return cmd[cmd.index("-m") + 1]
    return Path(cmd[0]).name


def _out(receipt: dict[str, Any]) -> tuple[str, str | None]:
    """The option naming the output folder, and the value the command gave it."""
    option = (receipt.get("rerun") or {}).get("out_option") or "--out"
    value = receipt["out"] if "out" in receipt else out_value(receipt["command"], option)
    return option, value


def with_out(receipt: dict[str, Any], new: str | None) -> list[str]:
    """The command as typed, its output folder replaced by `new` (dropped when `new` is None)."""
    option, old = _out(receipt)
    cmd, kept, found, i = receipt["command"], [], False, 0
    while i < len(cmd):
        pair = cmd[i] == option and i + 1 < len(cmd) and cmd[i + 1] == old
        if pair or (old is not None and cmd[i] == f"{option}={old}"):
            if new is not None:
                kept += [option, new] if pair else [f"{option}={new}"]
            found, i = True, i + (2 if pair else 1)
            continue
        kept.append(cmd[i])
        i += 1
    if new is not None and not found:  # a default folder: name the new one (the last one wins)
        kept += [option, new]
    return kept


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for k, v in value.items():
            flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return flat or {prefix: {}}
    return {prefix: value}


def cause(key: str) -> str | None:
    """The kind of cause a differing field is (`kernels`, `threads`, ...); None if none."""
    if key in CAUSES:
        return CAUSES[key]
    if key.startswith("env."):  # any other env key that is not a machine fact: a library version
        name = key.removeprefix("env.")
        return None if name in FINGERPRINT or "." in name else "libraries"
    return key.split(".")[0] if key.split(".")[0] in ("config", "git") else None


def _load_weights(receipt_path: Path, receipt: dict[str, Any]) -> dict[str, Any] | None:
    """The weights beside a receipt as float64 numpy arrays, or None when they cannot be read."""
    name = receipt.get("weights_file")
    if not name or not (Path(receipt_path).parent / name).is_file():
        return None
    path = Path(receipt_path).parent / name
    import numpy as np

    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                return {k: z[k].astype(np.float64) for k in z.files}
        import torch  # .safetensors and .pt/.ckpt: both through torch, which reads bf16 too

        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state)
        return {k: v.detach().double().numpy() for k, v in state.items() if hasattr(v, "detach")}
    except Exception:  # noqa: BLE001 - an unreadable weights file is a "cannot measure", not a crash
        return None


@dataclass
class Comparison:
    """The verdict on two receipts, and the evidence for it."""

    verdict: str
    reason: str
    max_abs_diff: float | None = None
    metric_diffs: dict[str, tuple[Any, Any, float | None]] = field(default_factory=dict)
    measurements: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    causes: list[tuple[str, Any, Any]] = field(default_factory=list)
    others: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def differing(self) -> list[tuple[str, Any, Any]]:
        return [*self.causes, *self.others]

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "IDENTICAL" else 1

    def report(self) -> str:
        lines = [f"{self.verdict}: {self.reason}"]
        for name, (a, b, d) in self.metric_diffs.items():
            delta = "" if d is None else f"  (Δ {d:+.6g})"
            lines.append(f"  metric {name}: {a} -> {b}{delta}")
        lines += [
            f"  measured {k}: {a} -> {b} (not judged)" for k, (a, b) in self.measurements.items()
        ]
        lines.append(f"fields known to change bits that differ ({len(self.causes)}):")
        lines += [f"  {k}: {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in self.causes]
        lines.append(f"other fields that differ ({len(self.others)}):")
        lines += [f"  {k}: {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in self.others]
        return "\n".join(lines)


def _fields(receipt: dict[str, Any]) -> dict[str, Any]:
    """The fields two runs of one command should share; the output folder aside, by design."""
    skip = {"seconds", "weights_sha256", "weights_file", "command", "out", "rerun", "metrics"}
    flat = {k: v for k, v in _flatten(receipt).items() if k.split(".")[0] not in skip}
    flat = {k: v for k, v in flat.items() if k.split(".")[0] != "measurements"}
    _, out = _out(receipt)
    flat = {k: v for k, v in flat.items() if not (k.startswith("config.") and v == out)}
    return flat | {"command": with_out(receipt, "<out>")}


def _judge_metrics(a: dict, b: dict, metric_atol: float) -> tuple[dict, bool]:
    diffs, ok = {}, True
    for name in sorted(a.keys() | b.keys()):
        va, vb = a.get(name), b.get(name)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (va, vb))
        delta = vb - va if numeric else None
        diffs[name] = (va, vb, delta)
        ok &= abs(delta) <= metric_atol if delta is not None else va == vb
    return diffs, ok


def compare_receipts(
    path_a: Path,
    path_b: Path,
    *,
    atol: float = DEFAULT_ATOL,
    metric_atol: float = DEFAULT_METRIC_ATOL,
) -> Comparison:
    """Compare two receipts of the same command: same bits, close enough, or different, and why."""
    a, b = load_receipt(path_a), load_receipt(path_b)
    if (a["topic"], program(a)) != (b["topic"], program(b)):
        raise ReceiptError(
            f"receipts of two different commands: {a['topic']} {program(a)} "
            f"vs {b['topic']} {program(b)}"
        )
    fa, fb = _fields(a), _fields(b)
    diffs = [
        (k, fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)
    ]
    causes = [d for d in diffs if cause(d[0]) is not None]
    causes.sort(key=lambda d: CAUSE_ORDER.index(cause(d[0])))
    others = [d for d in diffs if cause(d[0]) is None]
    metric_diffs, metric_ok = _judge_metrics(a["metrics"], b["metrics"], metric_atol)
    ma, mb = a.get("measurements") or {}, b.get("measurements") or {}
    measured = {k: (ma.get(k), mb.get(k)) for k in sorted(ma.keys() | mb.keys())}
    result = Comparison("", "", None, metric_diffs, measured, causes, others)

    if a["weights_sha256"] is not None and a["weights_sha256"] == b["weights_sha256"]:
        result.verdict = "IDENTICAL"
        result.reason = f"same weights_sha256 {a['weights_sha256'][:15]}"
        return result
    wa, wb = _load_weights(path_a, a), _load_weights(path_b, b)
    if wa is None or wb is None:
        result.verdict = "WITHIN TOLERANCE" if metric_ok else "DIFFERENT"
        result.reason = f"weights_sha256 differ; no readable weights file beside both receipts, so judged on metrics only (metric tolerance {metric_atol:g})"
        return result
    if wa.keys() != wb.keys() or any(wa[k].shape != wb[k].shape for k in wa):
        result.verdict, result.reason = "DIFFERENT", "the weights have different names or shapes"
        return result
    import numpy as np

    diff = (float(np.max(np.abs(wa[k] - wb[k]), initial=0.0)) for k in wa)
    result.max_abs_diff = max(diff, default=0.0)
    close = result.max_abs_diff <= atol and metric_ok
    result.verdict = "WITHIN TOLERANCE" if close else "DIFFERENT"
    result.reason = (
        f"weights_sha256 differ; max |Δw| = {result.max_abs_diff:.3g} "
        f"(tolerance {atol:g}); metrics {'within' if metric_ok else 'beyond'} {metric_atol:g}"
    )
    return result


# ----------------------------------------------------------------------------- verify


def _scripts() -> dict[str, str]:
    try:
        return tomllib.loads((TOPIC_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return {}


def rerun_argv(receipt: dict[str, Any], out: Path) -> list[str]:
    """The recorded command as an argv for this interpreter, writing into `out` instead."""
    if receipt["topic"] != TOPIC:
        raise ReceiptError(
            f"this receipt is from topic {receipt['topic']!r}; verify it from that topic "
            f"(python -m {receipt['topic']}.receipt verify ...), not from {TOPIC}"
        )
    if not receipt.get("rerun"):
        raise ReceiptError(
            f"this receipt of {program(receipt)} records no way to re-run it (rerun is null)"
        )
    cmd, mine = with_out(receipt, str(out)), program(receipt).startswith(f"{TOPIC}.")
    if cmd[:2] == ["python", "-m"] and mine:
        return [sys.executable, *cmd[1:]]
    if cmd[0] == "torchrun" and mine:  # several processes: torchrun is torch.distributed.run
        return [sys.executable, "-m", "torch.distributed.run", *cmd[1:]]
    if cmd[0] in _scripts():
        return script_argv(cmd[0], cmd[1:])
    raise ReceiptError(f"cannot re-run {cmd[0]!r}: it is not a command of {TOPIC}")


def script_argv(name: str, args: list[str]) -> list[str]:
    """Run a [project.scripts] entry point of this topic by its name, installed or not."""
    module, func = _scripts()[name].split(":")
    shim = f"import sys; sys.argv[0] = {name!r}; from {module} import {func}; sys.exit({func}())"
    return [sys.executable, "-c", shim, *args]


def rerun_env(receipt: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """os.environ with the recorded kernel and thread settings applied, and what was applied."""
    env, applied = dict(os.environ), []
    recorded = receipt["env"]
    for var in KERNEL_VARS:
        value = recorded.get(var)
        if value is None:
            env.pop(var, None)
        else:
            env[var] = str(value)
            applied.append(f"{var}={value}")
    if recorded.get("OMP_NUM_THREADS") is None and recorded.get("torch_threads"):
        env["OMP_NUM_THREADS"] = str(recorded["torch_threads"])  # the thread count the run had
        applied.append(f"OMP_NUM_THREADS={recorded['torch_threads']} (recorded torch_threads)")
    src = str(TOPIC_ROOT / "src")  # so it also runs where the topic is not installed
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env, applied


def verify(
    path: Path, *, out: Path | None = None, atol: float = DEFAULT_ATOL
) -> tuple[Comparison, list[str]]:
    """Re-run a receipt's command with its recorded settings into a fresh folder, then compare."""
    receipt = load_receipt(path)
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        fresh = Path(out) if out is not None else Path(tmp) / "out"
        argv = rerun_argv(receipt, fresh)  # refuses before anything runs
        env, applied = rerun_env(receipt)
        cwd = TOPIC_ROOT / receipt["rerun"]["cwd"]
        if not cwd.is_dir():
            raise ReceiptError(f"the recorded working folder {cwd} does not exist here")
        print(
            f"re-running {program(receipt)} in {fresh} with {', '.join(applied) or 'no settings'}"
        )
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(no output)"]
            raise ReceiptError(f"the re-run exited {done.returncode}: {tail[0]}")
        return compare_receipts(path, fresh / receipt["rerun"]["receipt"], atol=atol), applied


# ----------------------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage block
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def tolerance(text: str) -> float:
    """argparse type for --atol: a finite number >= 0 (NaN would pass every `x < 0` check)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number >= 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog=f"python -m {TOPIC}.receipt", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    p_cmp = sub.add_parser("compare", help="compare two receipts")
    p_cmp.add_argument("a", type=Path)
    p_cmp.add_argument("b", type=Path)
    p_ver = sub.add_parser("verify", help="re-run a receipt's command and compare")
    p_ver.add_argument("receipt", type=Path)
    p_ver.add_argument(
        "--out", type=Path, help="keep the re-run here (default: a temporary folder)"
    )
    for p in (p_cmp, p_ver):
        p.add_argument(
            "--atol", type=tolerance, default=DEFAULT_ATOL, help="max |Δw| still within tolerance"
        )
    p_val = sub.add_parser("validate", help="check a receipt has every documented field")
    p_val.add_argument("receipt", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.action == "compare":
            result = compare_receipts(args.a, args.b, atol=args.atol)
        elif args.action == "verify":
            result, _ = verify(args.receipt, out=args.out, atol=args.atol)
            if result.verdict == "IDENTICAL":
                print(f"MATCH: the re-run reproduced weights_sha256 {result.reason.split()[-1]}")
                return 0
        else:
            receipt = load_receipt(args.receipt, complete=False)
            problems = validate_receipt(receipt)
            print("\n".join(problems) or f"{args.receipt}: a valid receipt")
            return 1 if problems else 0
    except ReceiptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.report())
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
