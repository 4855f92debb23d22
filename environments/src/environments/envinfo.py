"""Environment fingerprint: one JSON record of everything that can change a number.

Python and platform, CPU, the BLAS library numpy calls and its thread count, torch with its
CUDA/cuDNN/NCCL versions and GPUs (when torch is importable), the NVIDIA driver (when nvidia-smi
exists), every installed distribution with its version, the lockfile hash, and the environment
variables that change numerical results. Write one at the start of a project and one per run;
`env-diff` tells two of them apart.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from environments.plumbing import OUTPUTS, BadInput, OneLineParser, check_out, run_at_edge
from environments.receipt import git_info, lock_sha256, sha256_file, write_json_atomic

SCHEMA = "envinfo/1"

# Variables that change results or their reproducibility without changing any code:
# thread counts change the order of floating-point sums, the cuBLAS workspace setting is needed
# for deterministic GPU matmuls, the hash seed changes set/dict iteration order, and the visible
# GPUs decide which (and how many) devices a run uses.
NUMERIC_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
    "PYTHONHASHSEED",
    "CUDA_VISIBLE_DEVICES",
)

# Top-level keys every record has (values may be null where a fact does not apply).
FIELDS = (
    "schema",
    "created",
    "python",
    "platform",
    "cpu",
    "numeric_env",
    "blas",
    "torch",
    "nvidia_smi",
    "lockfile",
    "git",
    "packages",
)


def python_facts() -> dict[str, str]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def platform_facts() -> dict[str, str]:
    libc, libc_version = platform.libc_ver()
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "libc": f"{libc} {libc_version}".strip(),
    }


def cpu_model() -> str:
    """The CPU's marketing name (Linux: /proc/cpuinfo), else whatever platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_facts() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # Slurm and containers often give a job fewer cores than the machine has: record both.
    return {"model": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": usable}


def blas_facts() -> dict[str, dict[str, Any]]:
    """Which BLAS numpy/scipy call, its version and thread count (threadpoolctl), by library."""
    try:
        import numpy  # noqa: F401  (loads the BLAS that threadpoolctl then inspects)
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    return {
        f"{lib['internal_api']}:{Path(lib['filepath']).name}": {
            "version": lib.get("version"),
            "num_threads": lib.get("num_threads"),
            "architecture": lib.get("architecture"),
        }
        for lib in threadpool_info()
    }


def torch_facts() -> dict[str, Any] | None:
    """torch and the CUDA stack it was built with; None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None

    facts: dict[str, Any] = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,  # the CUDA the wheel was built for (None on CPU-only builds)
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "nccl": None,
        "cuda_available": torch.cuda.is_available(),
        "num_threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "devices": [],
    }
    # CPU-only and macOS builds ship without NCCL: then it stays None.
    with contextlib.suppress(AttributeError, RuntimeError, TypeError):
        facts["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    if facts["cuda_available"]:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            facts["devices"].append(
                {
                    "name": props.name,
                    "capability": f"{props.major}.{props.minor}",
                    "memory_gib": round(props.total_memory / 2**30, 1),
                }
            )
    return facts


def nvidia_smi_facts() -> list[dict[str, str]] | None:
    """Driver and GPUs as nvidia-smi reports them (works without torch); None without nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = "--query-gpu=name,driver_version,memory.total"
    done = subprocess.run(
        ["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True
    )
    if done.returncode != 0:
        return None
    gpus = []
    for line in done.stdout.strip().splitlines():
        name, driver, memory = (part.strip() for part in line.split(","))
        gpus.append({"name": name, "driver": driver, "memory": memory})
    return gpus


def installed_packages() -> dict[str, str]:
    """Every distribution importable here, as `name: version` (what `pip freeze` would list)."""
    packages = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower().replace("_", "-")] = dist.version
    return dict(sorted(packages.items()))


def collect(lockfile: Path | None = None, with_torch: bool = True) -> dict[str, Any]:
    """The fingerprint of the running interpreter's environment."""
    lock_hash = sha256_file(lockfile) if lockfile else lock_sha256()
    return {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": python_facts(),
        "platform": platform_facts(),
        "cpu": cpu_facts(),
        "numeric_env": {name: os.environ.get(name) for name in NUMERIC_ENV_VARS},
        "blas": blas_facts(),
        "torch": torch_facts() if with_torch else None,
        "nvidia_smi": nvidia_smi_facts(),
        "lockfile": {"path": str(lockfile) if lockfile else "uv.lock", "sha256": lock_hash},
        "git": git_info(),
        "packages": installed_packages(),
    }


def is_envinfo(path: Path) -> bool:
    """A file `--out` may overwrite: an earlier env-info record, never a file of the user's."""
    try:
        return str(json.loads(path.read_text()).get("schema", "")).startswith("envinfo/")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def record_environment(out: Path, lock: Path | None, with_torch: bool) -> int:
    if lock is not None and not lock.is_file():
        raise BadInput(f"lockfile {lock} not found (or not a file)")
    check_out(out, folder=False, keeps=is_envinfo)
    record = collect(lock, with_torch=with_torch)
    write_json_atomic(out, record)
    torch = record["torch"]
    print(
        f"python {record['python']['version']} on {record['platform']['machine']}, "
        f"{len(record['packages'])} packages, torch "
        f"{torch['version'] if torch else 'not recorded' if not with_torch else 'not installed'}"
        f"{', CUDA ' + str(torch['cuda']) if torch and torch['cuda'] else ''}"
    )
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-info", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUTS / "envinfo.json", help="JSON file")
    parser.add_argument(
        "--lock", type=Path, help="lockfile to hash (default: this topic's uv.lock)"
    )
    parser.add_argument("--no-torch", action="store_true", help="do not import torch (faster)")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: record_environment(args.out, args.lock, not args.no_torch))


if __name__ == "__main__":
    sys.exit(main())
