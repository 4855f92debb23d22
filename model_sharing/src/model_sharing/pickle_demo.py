"""Pickle is code: loading a `.pt`/`.bin`/`.ckpt` checkpoint can run whatever its author wrote.

We build a harmless "malicious" checkpoint: real weights plus one object whose unpickling
writes a marker file. `torch.load(weights_only=False)` runs it; `weights_only=True` (the
default since torch 2.6) refuses it; the same weights saved as safetensors are only a JSON
header and raw bytes, so there is nothing to run.

Run: `uv run ms-pickle --out outputs/pickle`
"""

from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from model_sharing.plumbing import OneLineParser, check_out, run_at_edge
from model_sharing.safetensors_tools import describe, read_one_tensor


class RunsCodeOnLoad:
    """Pickle stores 'call this function with these arguments' to rebuild an object.

    `__reduce__` lets the author choose the function. Here it is `exec` on a line that writes a
    marker file; a real attacker would choose something worse.
    """

    def __init__(self, marker: Path):
        self.marker = Path(marker)

    def __reduce__(self):
        code = f"open({str(self.marker)!r}, 'w').write('this ran while loading a checkpoint\\n')"
        return (exec, (code,))


def write_malicious_checkpoint(model: torch.nn.Module, path: Path, marker: Path) -> Path:
    """A checkpoint that looks normal: a state_dict and a harmless-looking extra entry."""
    torch.save({"state_dict": model.state_dict(), "extra": RunsCodeOnLoad(marker)}, path)
    return path


def unsafe_load(path: Path) -> dict:
    """What old tutorials do. Runs the payload."""
    return torch.load(path, weights_only=False)


def safe_load(path: Path) -> dict:
    """Only tensors, dicts, lists and primitives are allowed; anything else raises."""
    return torch.load(path, weights_only=True)


def refusal_reason(exc: Exception) -> str:
    """The one line of torch's long message that names what was refused."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(exc).splitlines()]
    return next((ln for ln in lines if "Unsupported global" in ln), lines[0])


def save_as_safetensors(model: torch.nn.Module, path: Path) -> Path:
    """Same weights, no code: the metadata is string -> string only."""
    save_file(model.state_dict(), str(path), metadata={"format": "pt", "source": "pickle_demo"})
    return path


def run_demo(out: Path) -> dict[str, object]:
    """The whole story as data, so the test, the notebook and the CLI show the same facts."""
    out.mkdir(parents=True, exist_ok=True)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    marker = out / "MARKER_code_ran.txt"
    marker.unlink(missing_ok=True)
    ckpt = write_malicious_checkpoint(model, out / "checkpoint.pt", marker)

    try:
        safe_load(ckpt)
        safe_refused = ""
    except pickle.UnpicklingError as exc:
        safe_refused = refusal_reason(exc)
    marker_after_safe = marker.exists()

    unsafe_load(ckpt)
    marker_after_unsafe = marker.exists()

    st = save_as_safetensors(model, out / "model.safetensors")
    return {
        "safe_load_refused": safe_refused,
        "marker_after_weights_only_true": marker_after_safe,
        "marker_after_weights_only_false": marker_after_unsafe,
        "safetensors_tensors": describe(st),
        "lazy_read_0.bias": read_one_tensor(st, "0.bias").tolist(),
    }


def _main(argv: list[str] | None) -> int:
    p = OneLineParser(prog="ms-pickle", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("outputs/pickle"))
    args = p.parse_args(argv)
    facts = run_demo(check_out(args.out))
    print(f"torch.load(weights_only=True)  -> refused: {facts['safe_load_refused']}")
    print(f"  marker file exists afterwards: {facts['marker_after_weights_only_true']}")
    print("torch.load(weights_only=False) -> loaded, and ran the payload")
    print(f"  marker file exists afterwards: {facts['marker_after_weights_only_false']}")
    print("safetensors header (tensors only, read without loading them):")
    for row in facts["safetensors_tensors"]:
        print(f"  {row['name']:<10} {row['dtype']} {row['shape']} bytes {row['offsets']}")
    print(f"lazy read of one tensor, 0.bias = {facts['lazy_read_0.bias']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
