"""What replaces pickle: safetensors = 8-byte length + JSON header + raw tensor bytes. Nothing runs.

Because the header is plain JSON at the start of the file, you can see every tensor's name,
dtype, shape and byte range without loading anything, and `safe_open` reads ONE tensor
lazily (memory-mapped) without touching the rest. Safety is not integrity, though: the format
rejects a truncated or malformed file, but a flipped byte inside the tensor data is still a
valid file - compare `weights_sha256` (run.json) to catch that.

Run: `uv run ms-inspect outputs/digits-mlp/model.safetensors --tensor net.0.bias`
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from model_sharing.errors import ShareError, run_cli
from model_sharing.receipt import weights_sha256

HEADER_LIMIT = 100 * 1024 * 1024  # the safetensors spec caps the header at 100 MB
# Bytes per element of common safetensors dtypes; others (e.g. 4-bit) skip the length check.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "BOOL": 1}
DTYPE_BYTES |= {f"{k}{b}": b // 8 for k in "IU" for b in (8, 16, 32, 64)}
DTYPE_BYTES |= {k: 1 for k in ("F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ")}


def read_header(path: Path) -> dict[str, Any]:
    """Parse the header by hand (no library): shows how little there is to the format."""
    path = Path(path)
    if not path.is_file():
        raise ShareError(f"{path} not found")
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ShareError(f"{path} is truncated: {size} bytes, shorter than the 8-byte prefix")
        (n,) = struct.unpack("<Q", prefix)  # little-endian unsigned 64-bit header length
        if n > min(HEADER_LIMIT, size - 8):
            raise ShareError(f"{path} is truncated or not safetensors: header says {n} bytes")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ShareError(f"{path} has a corrupted JSON header ({exc})") from exc
    if not isinstance(header, dict):
        raise ShareError(f"{path} has a tampered header: a JSON object was expected")
    data_bytes = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        _, end = _checked_offsets(path, name, info)
        if end > data_bytes:
            raise ShareError(f"{path} is truncated: tensor {name} ends past the end of the file")
    return header


def _checked_offsets(path: Path, name: str, info: Any) -> tuple[int, int]:
    """A header entry must name dtype, shape and a byte range exactly as long as they imply."""
    try:
        dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        n_bytes = DTYPE_BYTES.get(dtype, 0) * math.prod(shape)  # 0: unknown dtype, no check
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
            raise ValueError(f"data_offsets {info['data_offsets']}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ShareError(f"{path} has a tampered header entry for {name!r} ({exc!r})") from exc
    if n_bytes and end - start != n_bytes:
        raise ShareError(
            f"{path} has a tampered header: {name} claims {end - start} bytes, "
            f"its {dtype} {shape} needs {n_bytes}"
        )
    return start, end


def describe(path: Path) -> list[dict[str, Any]]:
    """One row per tensor: name, dtype, shape, byte range - read from the header only."""
    header = read_header(path)
    return [
        {"name": k, "dtype": v["dtype"], "shape": v["shape"], "offsets": v["data_offsets"]}
        for k, v in sorted(header.items())
        if k != "__metadata__"
    ]


def read_one_tensor(path: Path, name: str) -> torch.Tensor:
    """Lazily read a single tensor: only its bytes are touched (the file is memory-mapped)."""
    read_header(path)  # clear error for a broken file before the library sees it
    try:
        with safe_open(str(path), framework="pt") as f:
            if name not in f.keys():  # noqa: SIM118 - safe_open has keys(), not __contains__
                raise ShareError(f"{path} has no tensor {name!r}; it has {sorted(f.keys())}")
            return f.get_tensor(name)
    except SafetensorError as exc:
        raise ShareError(f"{path} is not a valid safetensors file ({exc})") from exc


def load_verified(
    path: Path, expected_weights_sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """Load every tensor; reject truncated/malformed files and, given a hash, modified ones."""
    read_header(path)
    try:
        tensors = load_file(str(path))
    except SafetensorError as exc:
        raise ShareError(f"{path} is not a valid safetensors file ({exc})") from exc
    if expected_weights_sha256 is not None:
        got = weights_sha256(tensors)
        if got != expected_weights_sha256:
            raise ShareError(
                f"{path} was modified: weights_sha256 {got[:12]}... != expected "
                f"{expected_weights_sha256[:12]}... from run.json"
            )
    return tensors


def verify_folder(folder: Path) -> dict[str, torch.Tensor]:
    """Check a shared folder's model.safetensors against the weights_sha256 in its run.json."""
    folder = Path(folder)
    run_path = folder / "run.json"
    expected = json.loads(run_path.read_text())["weights_sha256"] if run_path.is_file() else None
    return load_verified(folder / "model.safetensors", expected)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path, help="a .safetensors file")
    p.add_argument("--tensor", help="read just this tensor, lazily")
    p.add_argument("--expect-sha256", help="weights_sha256 to verify (e.g. from run.json)")
    args = p.parse_args(argv)
    header = read_header(args.file)
    print(f"metadata: {header.get('__metadata__', {})}")
    for row in describe(args.file):
        print(f"{row['name']:<24} {row['dtype']:<5} {str(row['shape']):<10} bytes {row['offsets']}")
    if args.tensor:
        t = read_one_tensor(args.file, args.tensor)
        print(f"{args.tensor}: {tuple(t.shape)} first values {t.flatten()[:4].tolist()}")
    if args.expect_sha256:
        load_verified(args.file, args.expect_sha256)
        print("weights_sha256 matches")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
