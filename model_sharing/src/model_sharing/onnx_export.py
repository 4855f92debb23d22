"""A second portable format: ONNX, a graph of standard operators any runtime can execute.

safetensors carries weights only (you still need our Python class); ONNX carries weights AND
the computation, so onnxruntime (C++, C#, JavaScript, mobile) runs the model with no PyTorch
and no code of ours. Different kernels sum in a different order, so outputs agree to a
tolerance, not bit for bit: we state it (ATOL, RTOL) and check it, and require identical
predicted classes.

The export uses torch's current exporter (`dynamo=True`: `torch.export` captures the graph,
onnxscript translates it). Its progress lines and warnings are printed as they come: they say
what the exporter did (e.g. which optional operator sets it skipped), so we do not hide them.

Run: `uv run ms-onnx --from outputs/digits-mlp --out outputs/digits-onnx` (writes model.onnx)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from model_sharing.plumbing import OneLineParser, ShareError, check_out, run_at_edge
from model_sharing.receipt import atomic_write

# float32 logits of size ~10: kernel reordering moves them by ~1e-6; 1e-4 leaves headroom
# without hiding a real bug (a wrong weight moves logits by far more).
ATOL = 1e-4
RTOL = 1e-4


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Capture the model as an ONNX graph whose batch dimension is symbolic ("batch").

    Give an example of 2 or more rows: torch.export treats a size of 1 as a constant.
    """
    return atomic_write(  # into a temporary file, then renamed: never half a graph
        path,
        lambda tmp: torch.onnx.export(
            model.eval(),
            (example,),
            str(tmp),
            dynamo=True,
            input_names=["pixels"],
            output_names=["logits"],
            # keyed by forward()'s argument name; any batch size runs, not only the example's
            dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
        ),
    )


def onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    """Run the exported graph with onnxruntime: no torch involved."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"pixels": x.astype(np.float32)})[0]


def compare(model: torch.nn.Module, path: Path, x: torch.Tensor) -> dict[str, float | bool]:
    """Max absolute difference, whether it is within tolerance, and whether classes agree."""
    with torch.no_grad():
        ref = model.eval()(x).numpy()
    got = onnx_logits(path, x.numpy())
    return {
        "max_abs_diff": float(np.max(np.abs(ref - got))),
        "within_tolerance": bool(np.allclose(got, ref, atol=ATOL, rtol=RTOL)),
        "same_predictions": bool((ref.argmax(1) == got.argmax(1)).all()),
    }


def _main(argv: list[str] | None) -> int:
    from model_sharing.classifier import load_classifier
    from model_sharing.data import load_digits_split

    p = OneLineParser(prog="ms-onnx", description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="src", type=Path, default=Path("outputs/digits-mlp"))
    p.add_argument("--out", type=Path, default=Path("outputs/digits-onnx"), help="a folder")
    args = p.parse_args(argv)
    path = check_out(args.out) / "model.onnx"
    model = load_classifier(args.src)
    x = load_digits_split().x_test  # the fixed split every model here is tested on
    export_onnx(model, x[:2], path)
    result = compare(model, path, x)
    print(f"exported {path} ({path.stat().st_size:,d} bytes)")
    print(
        f"onnxruntime vs torch on {len(x)} test images: max |diff| = {result['max_abs_diff']:.2e}"
        f" (tolerance atol={ATOL}, rtol={RTOL}); same predictions: {result['same_predictions']}"
    )
    if not (result["within_tolerance"] and result["same_predictions"]):
        raise ShareError("ONNX outputs differ from PyTorch beyond the stated tolerance")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
