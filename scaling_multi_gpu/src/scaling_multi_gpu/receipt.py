"""The run receipt: one JSON file (`run.json`) that lets anyone trace and re-check a result.

Every command that trains or evaluates a model writes one beside its outputs. Two runs can be
compared with one string, `weights_sha256`, and every input that shaped the result (seed, config,
code commit, locked environment, data) is named by value or by hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

# src/<topic>/receipt.py -> the topic folder, where pyproject.toml and uv.lock live.
TOPIC_ROOT = Path(__file__).resolve().parents[2]


def sha256_file(path: Path) -> str | None:
    """Hash of a file's bytes, or None when it does not exist (e.g. a copy without uv.lock)."""
    path = Path(path)
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_sha256() -> str | None:
    """Hash of the topic's uv.lock: names the exact environment the run used."""
    return sha256_file(TOPIC_ROOT / "uv.lock")


def data_sha256(*arrays: np.ndarray | torch.Tensor) -> str:
    """Hash of the data as the model saw it (after splitting), so a silent data change shows."""
    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """Hash of trained parameters in a fixed (sorted-name) order: equal hashes = bitwise-equal weights."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


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


def env_info(device: str = "cpu") -> dict[str, str]:
    """The software and hardware facts that most often explain a different number."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": device,
    }


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a temporary file, then rename: a crash never leaves half a receipt."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=False)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a receipt is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
) -> Path:
    """Write `run.json` beside the outputs and return its path. `started` is a time.time() stamp."""
    receipt = {
        "command": command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]],
        "seed": seed,
        "config": config,
        "git": git_info(),
        "lock_sha256": lock_sha256(),
        "data_sha256": data_sha256,
        "env": env_info(device),
        "metrics": metrics,
        "weights_sha256": weights_sha256,
        "seconds": round(time.time() - started, 3),
    }
    path = Path(out_dir) / "run.json"
    write_json_atomic(path, receipt)
    return path
