"""What replaces pickle: safetensors = 8-byte length + JSON header + raw tensor bytes. Nothing runs.

Because the header is plain JSON at the start of the file, you can see every tensor's name,
dtype, shape and byte range without loading anything (`peek_header`, a dozen lines), and
`safe_open` reads ONE tensor lazily (memory-mapped) without touching the rest. Checking that a
file is well-formed is the library's job: `safe_open` / `load_file` raise `SafetensorError` for
a truncated file or a tampered header, and we only turn that into one error line. Safety is not
integrity, though: a flipped byte inside the tensor data is still a valid file - compare
`weights_sha256` (run.json) to catch that.

Run: `uv run ms-inspect outputs/digits-mlp/model.safetensors --tensor net.0.bias`
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from model_sharing.plumbing import OneLineParser, ShareError, read_json, run_at_edge
from model_sharing.receipt import weights_sha256

# The format caps the JSON header at 100,000,000 bytes (the Rust crate's MAX_HEADER_SIZE), so a
# reader never allocates what a hostile length field asks for. tests/ checks the library agrees.
HEADER_LIMIT = 100_000_000


def peek_header(path: Path) -> dict[str, Any]:
    """Read the header by hand, for the lesson: how little there is to the format.

    This is a peek, not a validator: `check_file` lets the library check offsets, dtypes and
    coverage. We only refuse what would make the peek itself misbehave.
    """
    with Path(path).open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ShareError(f"{path} is shorter than the 8-byte length prefix")
        (n,) = struct.unpack("<Q", prefix)  # little-endian unsigned 64-bit header length
        if n > HEADER_LIMIT:
            raise ShareError(f"{path}: header length {n:,d} exceeds the format's cap")
        try:
            return json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ShareError(f"{path}: the header is not JSON ({exc})") from exc


def check_file(path: Path) -> None:
    """Let safetensors validate the file; its own message becomes our one error line."""
    path = Path(path)
    if not path.is_file():
        raise ShareError(f"{path} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except SafetensorError as exc:
        raise ShareError(f"{path} is not a valid safetensors file (safetensors: {exc})") from exc


def describe(path: Path) -> list[dict[str, Any]]:
    """One row per tensor: name, dtype, shape, byte range - read from the header only."""
    check_file(path)
    header = peek_header(path)
    return [
        {"name": k, "dtype": v["dtype"], "shape": v["shape"], "offsets": v["data_offsets"]}
        for k, v in sorted(header.items())
        if k != "__metadata__"
    ]


def read_one_tensor(path: Path, name: str) -> torch.Tensor:
    """Lazily read a single tensor: only its bytes are touched (the file is memory-mapped)."""
    check_file(path)
    with safe_open(str(path), framework="pt") as f:
        if name not in f.keys():  # noqa: SIM118 - safe_open has keys(), not __contains__
            raise ShareError(f"{path} has no tensor {name!r}; it has {sorted(f.keys())}")
        return f.get_tensor(name)


def load_verified(
    path: Path, expected_weights_sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """Load every tensor (the library rejects malformed files) and, given a hash, modified ones."""
    check_file(path)
    tensors = load_file(str(path))
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
    expected = None
    if run_path.is_file():
        expected = read_json(run_path, "the run receipt").get("weights_sha256")
        if not isinstance(expected, str):
            raise ShareError(f"{run_path}: weights_sha256 must be a string, got {expected!r}")
    return load_verified(folder / "model.safetensors", expected)


def _main(argv: list[str] | None) -> int:
    p = OneLineParser(prog="ms-inspect", description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path, help="a .safetensors file")
    p.add_argument("--tensor", help="read just this tensor, lazily")
    p.add_argument("--expect-sha256", help="weights_sha256 to verify (e.g. from run.json)")
    args = p.parse_args(argv)
    rows = describe(args.file)  # validates first: nothing is printed for a broken file
    print(f"metadata: {peek_header(args.file).get('__metadata__', {})}")
    for row in rows:
        print(f"{row['name']:<24} {row['dtype']:<5} {str(row['shape']):<10} bytes {row['offsets']}")
    if args.tensor:
        t = read_one_tensor(args.file, args.tensor)
        print(f"{args.tensor}: {tuple(t.shape)} first values {t.flatten()[:4].tolist()}")
    if args.expect_sha256:
        load_verified(args.file, args.expect_sha256)
        print("weights_sha256 matches")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
