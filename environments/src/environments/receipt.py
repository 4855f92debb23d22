"""The run receipt: one JSON file (`run.json`) that says what made a result, and how to re-check it.

Every command that trains or evaluates a model writes one beside its outputs. `weights_sha256`
says in one string *whether* two runs ended with the same weights; the `env` block says *why*
they might not: it fingerprints everything known to change a run's bits (which CPU kernels torch
dispatched to, thread counts, the kernel-choice environment variables, library versions, the
GPU and its TF32 flags). The module is also a command:

    python -m <topic>.receipt compare A/run.json B/run.json   # IDENTICAL / WITHIN TOLERANCE / DIFFERENT, and why
    python -m <topic>.receipt verify RUN.json                 # re-run the recorded command, then compare
    python -m <topic>.receipt validate RUN.json               # has it every documented field?

This file is byte-identical in every topic (a root test checks it). It imports no heavy library
itself: torch, numpy and safetensors are used only where the topic has them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# src/<topic>/receipt.py -> the topic folder, where pyproject.toml and uv.lock live.
TOPIC_ROOT = Path(__file__).resolve().parents[2]
TOPIC = Path(__file__).resolve().parent.name
RECEIPT_FIELDS = ["topic", "command", "rerun", "seed", "config", "git", "lock_sha256"]
RECEIPT_FIELDS += ["data_sha256", "env", "metrics", "weights_sha256", "weights_file", "seconds"]
# Environment variables that change which kernels run, or in what order a sum is taken.
KERNEL_VARS = ["ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS"]
KERNEL_VARS += ["MKL_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED"]
FINGERPRINT = ["python", "platform", "machine", "cpu_model", "cpu_vendor", "cpu_count", "device"]
FINGERPRINT += ["torch", "torch_cpu_capability", "torch_threads", "deterministic_algorithms"]
FINGERPRINT += [
    *KERNEL_VARS,
    "gpu_name",
    "gpu_driver",
    "cuda",
    "cudnn",
    "tf32_matmul",
    "tf32_cudnn",
]
# Libraries that are not direct dependencies of a topic but whose version can change numbers.
INDIRECT_LIBRARIES = ["numpy", "scipy", "torchdata", "torchvision", "threadpoolctl"]
# Receipt fields that can change a run's bits, in the order `compare` lists them.
CAUSE_ORDER = [
    r"env\.(torch_cpu_capability|ATEN_CPU_CAPABILITY|MKL_CBWR|ONEDNN_MAX_CPU_ISA)",
    r"env\.(torch_threads|OMP_NUM_THREADS|MKL_NUM_THREADS)",
    r"env\.(deterministic_algorithms|CUBLAS_WORKSPACE_CONFIG|PYTHONHASHSEED)",
    r"env\.(device|gpu_name|gpu_driver|cuda|cudnn|tf32_matmul|tf32_cudnn)",
    r"env\.(cpu_model|cpu_vendor)",
    r"env\.(python|torch|LIBRARY)",
    r"(data_sha256|lock_sha256)",
    r"(config\..*|config|seed|command)",
    r"git\..*",
]
# Metrics that measure the machine, not the model: reported by `compare`, never judged.
TIMING_METRIC = re.compile(r"(second|time|_ms|per_s|throughput|memory|mfu|flops)", re.IGNORECASE)
DEFAULT_ATOL = 1e-2  # max |Δw|: other kernels moved weights <= 9e-4, another seed >= 0.46
DEFAULT_METRIC_ATOL = 0.01  # e.g. 2.7 of the 270 test images of modular_training's split


# ----------------------------------------------------------------------------- hashes


def sha256_file(path: Path) -> str | None:
    """Hash of a file's bytes, or None when it does not exist (e.g. a copy without uv.lock)."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def lock_sha256() -> str | None:
    """Hash of the topic's uv.lock: names the exact environment the run used."""
    return sha256_file(TOPIC_ROOT / "uv.lock")


def _is_tensor(a: Any) -> bool:
    torch = sys.modules.get("torch")  # a tensor can only exist if torch was imported already
    return torch is not None and isinstance(a, torch.Tensor)


def data_sha256(*arrays: Any) -> str:
    """Hash of the data as the model saw it (after splitting), so a silent data change shows."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().numpy() if _is_tensor(a) else np.asarray(a)
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def weights_sha256(state_dict: dict[str, Any]) -> str:
    """Hash of trained parameters in a fixed (sorted-name) order: equal hashes = bitwise-equal weights.

    Values are torch tensors (hashed with their torch dtype) or numpy arrays (a scikit-learn
    model's `coef_`, hashed with their numpy dtype).
    """
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(state_dict):
        value = state_dict[name]
        if _is_tensor(value):
            t = value.detach().cpu().contiguous()
            dtype, shape = str(t.dtype), tuple(t.shape)
            raw = t.reshape(-1).view(sys.modules["torch"].uint8).numpy().tobytes()
        else:
            t = np.ascontiguousarray(np.asarray(value))
            dtype, shape, raw = str(t.dtype), tuple(t.shape), t.reshape(-1).view(np.uint8).tobytes()
        h.update(name.encode())
        h.update(dtype.encode())
        h.update(str(shape).encode())
        h.update(raw)
    return h.hexdigest()


# ----------------------------------------------------------------------------- fingerprint


def git_info(where: Path = TOPIC_ROOT) -> dict[str, Any] | None:
    """Commit and dirty flag of the checkout holding the code; None outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def _cpu() -> tuple[str | None, str | None]:
    """CPU model and vendor: the same code takes other kernels on another CPU."""
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
        vendor = re.search(r"^vendor_id\s*:\s*(.+)$", info, re.MULTILINE)
        return (model and model.group(1).strip()), (vendor and vendor.group(1).strip())
    except OSError:  # macOS, Windows: fewer facts, never an error
        return platform.processor() or None, None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def topic_libraries() -> dict[str, str | None]:
    """Versions of the topic's direct dependencies (from its pyproject) and a few numeric ones."""
    try:
        deps = tomllib.loads((TOPIC_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        deps = []
    names = [re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in deps]
    names += [n for n in INDIRECT_LIBRARIES if n not in names and n in sys.modules]
    return {n: _version(n) for n in sorted(set(names)) if n != "torch"}


def _gpu(torch: Any, device: str) -> dict[str, Any]:
    facts = dict.fromkeys(["gpu_name", "gpu_driver", "cuda", "cudnn", "tf32_matmul", "tf32_cudnn"])
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return facts
    try:
        driver = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            .stdout.split("\n")[0]
            .strip()
        )
    except (OSError, subprocess.SubprocessError):
        driver = ""
    facts.update(
        gpu_name=torch.cuda.get_device_name(torch.device(device)),
        gpu_driver=driver or None,
        cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version(),
        tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
        tf32_cudnn=torch.backends.cudnn.allow_tf32,
    )
    return facts


def env_info(device: str = "cpu") -> dict[str, Any]:
    """The fingerprint: every fact known to change a run's bits, in one flat block."""
    torch = sys.modules.get("torch")  # the run imported it if it used it; never import it here
    cpu_model, cpu_vendor = _cpu()
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_vendor": cpu_vendor,
        "cpu_count": os.cpu_count(),
        "device": device,
        "torch": torch.__version__ if torch else _version("torch"),
        # Which SIMD kernels ATen chose (AVX512, AVX2, ...): another CPU, another sum order.
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability() if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled() if torch else None,
    }
    env.update({var: os.environ.get(var) for var in KERNEL_VARS})  # None = not set
    env.update(_gpu(torch, device))
    env.update(topic_libraries())
    return env


# ----------------------------------------------------------------------------- writing


def atomic_write(path: Path, data: bytes | str | Callable[[Path], object]) -> Path:
    """Write `path` whole or not at all: into a temporary file beside it, then one rename.

    `data` is the bytes or text to write, or a function that writes a file at the path it is
    given (`lambda tmp: save_file(tensors, tmp)`, `lambda tmp: fig.savefig(tmp, format="png")`).
    A crash or Ctrl-C mid-write leaves the old file (or none), never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, str):
                f.write(data.encode())
            elif isinstance(data, bytes):
                f.write(data)
        if callable(data):
            data(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON whole or not at all: a crash never leaves half a receipt."""
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def command_line() -> list[str]:
    """The argv as it can be typed again: `mt-train ...` or `python -m <topic>.module ...`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:  # started with `python -m`
        return ["python", "-m", spec.name.removesuffix(".__main__"), *sys.argv[1:]]
    return [Path(sys.argv[0]).name, *sys.argv[1:]]


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def write_run_json(
    out_dir: Path,
    *,
    seed: int,
    config: dict[str, Any],
    metrics: dict[str, float],
    weights_sha256: str | None,
    data_sha256: str | None,
    started: float,
    device: str = "cpu",
    command: list[str] | None = None,
    weights_file: Path | None = None,
    out_root: Path | None = None,
    out_option: str | None = "--out",
) -> Path:
    """Write `run.json` beside the outputs and return its path. `started` is a time.time() stamp.

    `weights_file` is the file holding the weights that `weights_sha256` hashes, so `compare` can
    measure how far apart two runs' weights are. `out_root` is the folder the `out_option` names
    when `run.json` goes into a sub-folder of it; `out_option=None` marks a run verify cannot redo.
    """
    path = Path(out_dir) / "run.json"
    rerun = None
    if out_option is not None:
        rerun = {
            "cwd": _relative(Path.cwd(), TOPIC_ROOT),
            "out_option": out_option,
            "receipt": _relative(path, out_root if out_root is not None else out_dir),
        }
    receipt = {
        "topic": TOPIC,
        "command": command if command is not None else command_line(),
        "rerun": rerun,
        "seed": seed,
        "config": config,
        "git": git_info(),
        "lock_sha256": lock_sha256(),
        "data_sha256": data_sha256,
        "env": env_info(device),
        "metrics": metrics,
        "weights_sha256": weights_sha256,
        "weights_file": None if weights_file is None else _relative(weights_file, path.parent),
        "seconds": round(time.time() - started, 3),
    }
    write_json_atomic(path, receipt)
    return path


# ----------------------------------------------------------------------------- reading


class ReceiptError(ValueError):
    """A file that is not a receipt, or two receipts that cannot be compared."""


def load_receipt(path: Path) -> dict[str, Any]:
    """Read a run.json; a missing file or one that is not a receipt raises ReceiptError."""
    path = Path(path)
    try:
        receipt = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReceiptError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReceiptError(f"{path}: not a JSON receipt ({exc})") from None
    if not isinstance(receipt, dict) or not {"command", "weights_sha256", "env"} <= receipt.keys():
        raise ReceiptError(f"{path}: not a run receipt (no command, weights_sha256 and env)")
    return receipt


def validate_receipt(receipt: dict[str, Any]) -> list[str]:
    """The documented fields that are missing or of the wrong kind (empty = a valid receipt)."""
    problems = [f"missing field {k!r}" for k in RECEIPT_FIELDS if k not in receipt]
    env = receipt.get("env")
    if not isinstance(env, dict):
        return [*problems, "env is not an object"]
    problems += [f"missing env field {k!r}" for k in FINGERPRINT if k not in env]
    if not isinstance(receipt.get("command"), list) or not receipt.get("command"):
        problems.append("command is not a non-empty list")
    if not isinstance(receipt.get("metrics"), dict):
        problems.append("metrics is not an object")
    rerun = receipt.get("rerun")
    if rerun is not None and not {"cwd", "out_option", "receipt"} <= set(rerun):
        problems.append("rerun lacks cwd, out_option or receipt")
    return problems


def program(receipt: dict[str, Any]) -> str:
    """What ran, without its options: `mt-train`, or the module after `python -m`."""
    cmd = receipt["command"]
    if cmd[0] in ("python", "torchrun") and "-m" in cmd[:-1]:  # torchrun [opts] -m module ...
        return cmd[cmd.index("-m") + 1]
    return Path(cmd[0]).name


def _out_value(receipt: dict[str, Any]) -> str | None:
    """The output folder the command was given, if it names one."""
    opt = (receipt.get("rerun") or {}).get("out_option") or "--out"
    cmd = receipt["command"]
    for i, arg in enumerate(cmd):
        if arg == opt and i + 1 < len(cmd):
            return cmd[i + 1]
        if arg.startswith(f"{opt}="):
            return arg.split("=", 1)[1]
    return None


def _without_out(receipt: dict[str, Any]) -> list[str]:
    """The command without its output folder, which differs between any two runs by design."""
    opt = (receipt.get("rerun") or {}).get("out_option") or "--out"
    cmd, kept = list(receipt["command"]), []
    skip = False
    for arg in cmd:
        if skip:
            skip = False
        elif arg == opt:
            skip = True
        elif not arg.startswith(f"{opt}="):
            kept.append(arg)
    return kept


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for k, v in value.items():
            flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return flat or {prefix: {}}
    return {prefix: value}


def _cause_rank(key: str) -> int | None:
    """Position of a field among the bit-changing ones; None for everything else."""
    if key.startswith("env.") and key.removeprefix("env.") not in FINGERPRINT:
        key = "env.LIBRARY"  # any other env key is a library version
    for rank, pattern in enumerate(CAUSE_ORDER):
        if re.fullmatch(pattern, key):
            return rank
    return None


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
        return {k: v.detach().double().numpy() for k, v in state.items() if _is_tensor(v)}
    except Exception:  # noqa: BLE001 - an unreadable weights file is a "cannot measure", not a crash
        return None


@dataclass
class Comparison:
    """The verdict on two receipts, and the evidence for it."""

    verdict: str
    reason: str
    max_abs_diff: float | None = None
    metric_diffs: dict[str, tuple[Any, Any, float | None]] = field(default_factory=dict)
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
        lines.append(f"fields known to change bits that differ ({len(self.causes)}):")
        lines += [f"  {k}: {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in self.causes]
        lines.append(f"other fields that differ ({len(self.others)}):")
        lines += [f"  {k}: {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in self.others]
        return "\n".join(lines)


def compare_receipts(
    path_a: Path,
    path_b: Path,
    *,
    atol: float = DEFAULT_ATOL,
    metric_atol: float = DEFAULT_METRIC_ATOL,
) -> Comparison:
    """Compare two receipts of the same command: same bits, close enough, or different, and why."""
    a, b = load_receipt(path_a), load_receipt(path_b)
    if (a.get("topic"), program(a)) != (b.get("topic"), program(b)):
        raise ReceiptError(
            f"receipts of two different commands: {a.get('topic')} {program(a)} "
            f"vs {b.get('topic')} {program(b)}"
        )
    skip = {"seconds", "weights_sha256", "weights_file", "command"}
    fa = {
        k: v for k, v in _flatten(a).items() if k.split(".")[0] not in skip | {"metrics", "rerun"}
    }
    fb = {
        k: v for k, v in _flatten(b).items() if k.split(".")[0] not in skip | {"metrics", "rerun"}
    }
    fa["command"], fb["command"] = _without_out(a), _without_out(b)
    for flat, receipt in ((fa, a), (fb, b)):  # the output folder is in the config too, by design
        out = _out_value(receipt)
        for key in [k for k, v in flat.items() if k.startswith("config.") and v == out]:
            del flat[key]
    diffs = [
        (k, fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)
    ]
    causes = sorted(
        (d for d in diffs if _cause_rank(d[0]) is not None), key=lambda d: _cause_rank(d[0])
    )
    others = [d for d in diffs if _cause_rank(d[0]) is None]

    metric_diffs, metric_ok = {}, True
    for name in sorted(a["metrics"].keys() | b["metrics"].keys()):
        va, vb = a["metrics"].get(name), b["metrics"].get(name)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (va, vb))
        delta = vb - va if numeric else None
        metric_diffs[name] = (va, vb, delta)
        if not TIMING_METRIC.search(name):  # timings measure the machine: reported, not judged
            metric_ok &= abs(delta) <= metric_atol if delta is not None else va == vb
    result = Comparison("", "", None, metric_diffs, causes, others)

    if a["weights_sha256"] is not None and a["weights_sha256"] == b["weights_sha256"]:
        result.verdict, result.reason = (
            "IDENTICAL",
            f"same weights_sha256 {a['weights_sha256'][:15]}",
        )
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

    result.max_abs_diff = max(
        (float(np.max(np.abs(wa[k] - wb[k]), initial=0.0)) for k in wa), default=0.0
    )
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
    if receipt.get("topic") != TOPIC:
        raise ReceiptError(
            f"this receipt is from topic {receipt.get('topic')!r}; verify it from that topic "
            f"(python -m {receipt.get('topic')}.receipt verify ...), not from {TOPIC}"
        )
    rerun, cmd = receipt.get("rerun"), receipt["command"]
    if not rerun or not rerun.get("out_option"):
        raise ReceiptError(
            f"this receipt of {program(receipt)} records no way to re-run it (rerun is null)"
        )
    base = _without_out(receipt)
    if cmd[:2] == ["python", "-m"] and program(receipt).startswith(f"{TOPIC}."):
        return [sys.executable, "-m", program(receipt), *base[3:], rerun["out_option"], str(out)]
    args = [*base[1:], rerun["out_option"], str(out)]
    if cmd[0] == "torchrun" and program(receipt).startswith(f"{TOPIC}."):  # several processes
        return [sys.executable, "-m", "torch.distributed.run", *args]
    if cmd[0] in _scripts():
        return script_argv(cmd[0], args)
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
        argv = rerun_argv(receipt, fresh)
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
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog=f"python -m {TOPIC}.receipt", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
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
            "--atol", type=float, default=DEFAULT_ATOL, help="max |Δw| still within tolerance"
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
            problems = validate_receipt(load_receipt(args.receipt))
            print("\n".join(problems) or f"{args.receipt}: a valid receipt")
            return 1 if problems else 0
    except ReceiptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.report())
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
