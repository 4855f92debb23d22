"""The headline demo: every way of sharing a model in this topic, in one run, as one table.

1. pickle runs code, safetensors does not; 2. the digits classifier shared with
PyTorchModelHubMixin and loaded back bit for bit; 3. the same tensors through the transformers
Auto classes, and a tiny GPT-2 folder with its tokenizer; 4. cards written from run.json;
5. what `push` would upload; 6. ONNX vs PyTorch. The last row is the machine's fingerprint:
the ONNX difference and the trained weights' hash depend on which kernels ran, so a number
quoted from this table is quoted with it.

Run: `uv run ms-demo --out outputs/demo` (add `--figures figures` to refresh the slides' plots)
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

import torch

from model_sharing import card, classifier, hf_native, onnx_export, pickle_demo, push, tiny_lm
from model_sharing.data import check_seed, fixed_batch, load_digits_split
from model_sharing.figures import plot_lm_loss, plot_safetensors_layout
from model_sharing.plumbing import OneLineParser, check_out, run_at_edge
from model_sharing.receipt import atomic_write, env_info, weights_sha256

# Wider SIMD sets first; torch uses AVX512 kernels only where all four of these exist.
SIMD_FLAGS = {"AVX512": {"avx512f", "avx512bw", "avx512vl", "avx512dq"}, "AVX2": {"avx2"}}


def cpu_simd() -> str:
    """The widest vector instruction set the CPU itself offers, from /proc/cpuinfo (Linux).

    onnxruntime and oneDNN pick their kernels from it whatever ATEN_CPU_CAPABILITY says, so it
    belongs in the fingerprint beside ATen's own choice. Where it cannot be read: "unknown".
    """
    try:
        flags = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:  # macOS, Windows
        return "unknown"
    have = set(flags[1].split()) if flags else set()
    return next((name for name, needed in SIMD_FLAGS.items() if needed <= have), "no AVX2")


def fingerprint() -> dict[str, str]:
    """What decides the bits of this demo's float results: the CPU, the kernels each library
    chose on it, the thread count and the library versions (run.json's `env` has more)."""
    import onnxruntime

    env = env_info()
    return {
        "CPU": f"{platform.machine()} {env['cpu_vendor'] or 'unknown'} {cpu_simd()}",
        "ATen kernels": env["torch_cpu_capability"],
        "MKL_CBWR": os.environ.get("MKL_CBWR") or "unset",
        "torch threads": str(env["torch_threads"]),
        "torch": env["torch"],
        "onnxruntime": onnxruntime.__version__,
    }


def format_fingerprint(fp: dict[str, str]) -> str:
    return ", ".join(f"{key} {value}" for key, value in fp.items())


def run_all(out: Path, seed: int = 0) -> list[tuple[str, str]]:
    """Run every step and return (claim, evidence) rows."""
    rows: list[tuple[str, str]] = []
    facts = pickle_demo.run_demo(out / "pickle")
    rows.append(
        ("weights_only=False ran the payload", str(facts["marker_after_weights_only_false"]))
    )
    rows.append(
        ("weights_only=True refused, no marker", str(not facts["marker_after_weights_only_true"]))
    )

    digits = classifier.share_classifier(out / "digits-mlp", seed=seed, out_root=out)
    original = classifier.load_classifier(digits)  # from the folder, as a user would
    split = load_digits_split()  # the fixed split the classifier was tested on
    x = fixed_batch(split)
    run = card.read_run(digits)
    rows.append(
        (
            "mixin round trip: weights_sha256 == run.json",
            str(weights_sha256(original.state_dict()) == run["weights_sha256"]),
        )
    )

    native = hf_native.from_mixin_model(original)
    native.save_pretrained(out / "digits-native")
    reloaded = hf_native.load_native(out / "digits-native")
    with torch.no_grad():
        same = torch.equal(original(x), reloaded(pixel_values=x).logits)
    rows.append(("Auto classes round trip: bitwise-equal logits", str(same)))

    sample = tiny_lm.share_lm(out / "tiny-gpt2", seed=seed, out_root=out)
    rows.append(("tiny GPT-2 greedy sample", repr(sample["text"])))

    # Recount on the loaded model, independently of run.json, and look for that in the card.
    correct, n = classifier.count_correct(original, split.x_test, split.y_test), len(split.y_test)
    in_card = card.accuracy_text(correct, n) in (digits / "README.md").read_text()
    rows.append(("card accuracy == recount of the loaded model", f"{correct}/{n} ({in_card})"))
    push.check_folder(digits)  # what push checks before listing: weights == run.json, card valid
    n_files = len(push.files_to_upload(digits))
    rows.append(("push --dry-run would upload", f"{n_files} files, nothing sent"))

    rows.append(("digits classifier weights_sha256", run["weights_sha256"]))
    onnx_path = onnx_export.export_onnx(original, x[:2], out / "digits-mlp.onnx")
    cmp = onnx_export.compare(original, onnx_path, x)
    rows.append(
        (
            f"ONNX max |diff| (atol {onnx_export.ATOL})",
            f"{cmp['max_abs_diff']:.1e}, same classes: {cmp['same_predictions']}",
        )
    )

    rows.append(("fingerprint of the two rows above", format_fingerprint(fingerprint())))

    plot_safetensors_layout(digits / "model.safetensors", out / "safetensors_layout.png")
    plot_lm_loss(out / "tiny-gpt2", out / "lm_loss.png")
    return rows


def _main(argv: list[str] | None) -> int:
    p = OneLineParser(prog="ms-demo", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("outputs/demo"))
    p.add_argument("--figures", type=Path, help="also copy the PNGs here (e.g. figures/)")
    args = p.parse_args(argv)
    check_seed(args.seed)  # every check before the first step writes anything
    check_out(args.out)
    if args.figures:
        check_out(args.figures, "--figures")
    started = time.time()
    rows = run_all(args.out, args.seed)
    width = max(len(c) for c, _ in rows)
    for claim, evidence in rows:
        print(f"{claim:<{width}}  {evidence}")
    if args.figures:
        for png in ("safetensors_layout.png", "lm_loss.png"):
            atomic_write(args.figures / png, (args.out / png).read_bytes())
    print(f"outputs in {args.out}/ ({time.time() - started:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
