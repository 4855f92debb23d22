"""The run receipt: one JSON file (`run.json`) that says what made a result, and how to re-check it.

Every command that trains or evaluates a model writes one beside its outputs. `weights_sha256`
says in one string *whether* two runs ended with the same weights; the `env` block says *why*
they might not (CPU kernels, threads, BLAS/OpenMP pools, kernel variables, library versions, GPU).
`python -m <topic>.receipt compare|verify|validate ...` reads receipts (see receipt_tools.py).
Both files are byte-identical in every topic; torch, numpy and threadpoolctl are used if present.
"""

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# src/<topic>/receipt.py -> the topic folder, where pyproject.toml and uv.lock live.
TOPIC_ROOT = Path(__file__).resolve().parents[2]
TOPIC = Path(__file__).resolve().parent.name
RECEIPT_FIELDS = ["topic", "command", "out", "rerun", "seed", "config", "git", "lock_sha256"]
RECEIPT_FIELDS += ["data_sha256", "env", "metrics", "measurements", "weights_sha256"]
RECEIPT_FIELDS += ["weights_file", "seconds"]
# Environment variables that change which kernels run, or in what order a sum is taken.
KERNEL_VARS = ["ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS"]
KERNEL_VARS += ["MKL_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED"]
FINGERPRINT = ["python", "platform", "machine", "cpu_model", "cpu_vendor", "cpu_count", "device"]
FINGERPRINT += ["torch", "torch_cpu_capability", "torch_threads", "deterministic_algorithms"]
FINGERPRINT += [*KERNEL_VARS, "gpu_name", "gpu_driver", "cuda", "cudnn", "tf32_matmul"]
FINGERPRINT += ["tf32_cudnn"]


def sha256_file(path: Path) -> str | None:
    """Hash of a file's bytes, or None when it does not exist (e.g. a copy without uv.lock)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else None


def lock_sha256() -> str | None:
    """Hash of the topic's uv.lock: names the exact environment the run used."""
    return sha256_file(TOPIC_ROOT / "uv.lock")


def data_sha256(*arrays: Any) -> str:
    """Hash of the data as the model saw it (after splitting), so a silent data change shows."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a.numpy(force=True) if hasattr(a, "numpy") else np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def weights_sha256(state_dict: dict[str, Any]) -> str:
    """Hash of tensors or arrays (a sklearn `coef_`) by name, dtype, shape: equal = bitwise equal."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name]
        if hasattr(t, "detach"):  # a torch tensor: raw bytes, so bf16 (numpy lacks it) hashes too
            t = t.detach().cpu().contiguous()
            raw = t.reshape(-1).view(sys.modules["torch"].uint8).numpy().tobytes()
        else:
            t = np.ascontiguousarray(np.asarray(t))
            raw = t.reshape(-1).view(np.uint8).tobytes()
        h.update(name.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode() + raw)
    return h.hexdigest()


def git_info(where: Path = TOPIC_ROOT) -> dict[str, Any] | None:
    """Commit and dirty flag of the checkout holding the code; None outside a git checkout."""
    git = ["git", "-C", str(where)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, check=True)
        status = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": head.stdout.decode().strip(), "dirty": bool(status.stdout.strip())}


def env_info(device: str = "cpu") -> dict[str, Any]:
    """The fingerprint: every fact known to change a run's bits, in one flat block."""
    # How each fact is read (/proc/cpuinfo, nvidia-smi, threadpoolctl, ...) is in receipt_tools.
    from .receipt_tools import cpu_model_vendor, gpu_facts, library_versions, threadpools

    torch = sys.modules.get("torch")  # the run imported it if it used it; never import it here
    on = torch is not None
    cpu_model, cpu_vendor = cpu_model_vendor()
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_vendor": cpu_vendor,
        "cpu_count": os.cpu_count(),
        "device": device,
        "torch": torch.__version__ if on else library_versions(["torch"])["torch"],
        # Which SIMD kernels ATen chose (AVX512, AVX2, ...): another CPU, another sum order.
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability() if on else None,
        "torch_threads": torch.get_num_threads() if on else None,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled() if on else None,
        # Processes that trained together (torchrun sets WORLD_SIZE): each size sums its own way.
        "world_size": int(os.environ["WORLD_SIZE"]) if "WORLD_SIZE" in os.environ else None,
    }
    env.update({var: os.environ.get(var) for var in KERNEL_VARS})  # None = not set
    env.update(gpu_facts(torch, device))  # all None on a CPU run
    env["threadpools"] = threadpools()  # which BLAS/OpenMP: version, threads, architecture
    return env | library_versions()  # the topic's direct dependencies and a few numeric ones


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
    """The launch as it can be typed again: `mt-train ...`, `python -m ...`, `torchrun ... -m ...`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    module = spec.name.removesuffix(".__main__") if spec is not None and spec.name else None
    if module and "TORCHELASTIC_RUN_ID" in os.environ:  # one rank of `torchrun -m module`
        nproc = os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1"))
        one_node = ["--standalone"] if nproc == os.environ.get("WORLD_SIZE", nproc) else []
        return ["torchrun", *one_node, f"--nproc-per-node={nproc}", "-m", module, *sys.argv[1:]]
    if module:  # started with `python -m`
        return ["python", "-m", module, *sys.argv[1:]]
    return [Path(sys.argv[0]).name, *sys.argv[1:]]


def out_value(command: list[str], option: str) -> str | None:
    """The value `option` has in `command` (`--out X` or `--out=X`), as typed."""
    for i, arg in enumerate(command):
        if arg == option and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(f"{option}="):
            return arg.split("=", 1)[1]
    return None


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def write_run_json(out_dir: Path, *, seed: int, config: dict[str, Any], metrics: dict[str, Any],
                   weights_sha256: str | None, data_sha256: str | None, started: float,
                   measurements: dict[str, Any] | None = None, device: str = "cpu",
                   command: list[str] | None = None, weights_file: Path | None = None,
                   out_root: Path | None = None, out_option: str | None = "--out",
                   hash_covers: str | None = None) -> Path:  # fmt: skip
    """Write `run.json` beside the outputs; `started` is a time.time() stamp. `metrics` are results
    (compare judges them), `measurements` describe the machine (only reported). `out_root` is the
    folder `out_option` names when run.json goes into a sub-folder; None: verify cannot redo it.
    `hash_covers` says what `weights_sha256` hashes when it is not a model's weights."""
    path = Path(out_dir) / "run.json"
    command = command if command is not None else command_line()
    rerun = None  # what verify needs to redo the run into a fresh folder, if it can
    if out_option is not None:
        inside = _relative(path, out_root if out_root is not None else out_dir)
        rerun = {"cwd": _relative(Path.cwd(), TOPIC_ROOT), "out_option": out_option}
        rerun["receipt"] = inside
    receipt = {
        "topic": TOPIC,
        "command": command,  # as typed; verify replaces only the `out` value in it
        "out": out_value(command, out_option) if out_option else None,
        "rerun": rerun,
        "seed": seed,
        "config": config,
        "git": git_info(),
        "lock_sha256": lock_sha256(),
        "data_sha256": data_sha256,
        "env": env_info(device),
        "metrics": metrics,
        "measurements": measurements or {},
        "weights_sha256": weights_sha256,
        "weights_file": None if weights_file is None else _relative(weights_file, path.parent),
        "seconds": round(time.time() - started, 3),
    }
    if hash_covers is not None:
        receipt["hash_covers"] = hash_covers
    write_json_atomic(path, receipt)
    return path


if __name__ == "__main__":  # `python -m <topic>.receipt compare|verify|validate ...`
    from importlib import import_module

    sys.exit(import_module(f"{TOPIC}.receipt_tools").main())
