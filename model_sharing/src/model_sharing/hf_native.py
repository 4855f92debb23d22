"""Transformers-native sharing: a `PretrainedConfig` + `PreTrainedModel` pair behind the Auto classes.

`AutoConfig` reads `model_type` from config.json and looks it up in a
registry; `AutoModelForImageClassification` maps the config class to the model class. Built-in
architectures are registered by transformers itself; ours we register with two lines, and we
also ship the class file (`modeling_digits.py`) in the folder for `trust_remote_code`. The
weights are the SAME tensors the PyTorchModelHubMixin classifier holds (same names), so both
packagings give the same `weights_sha256`.

Run: `uv run ms-native --from outputs/digits-mlp --out outputs/digits-native`
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn
from transformers import AutoConfig, AutoModelForImageClassification

from model_sharing.modeling_digits import DigitsConfig, DigitsForImageClassification
from model_sharing.pinning import is_local_folder, require_commit
from model_sharing.plumbing import OneLineParser, ShareError, check_out, run_at_edge


def register_auto_classes() -> None:
    """Teach the Auto classes our `model_type` (idempotent: safe to call twice)."""
    try:
        AutoConfig.register(DigitsConfig.model_type, DigitsConfig)
        AutoModelForImageClassification.register(DigitsConfig, DigitsForImageClassification)
    except ValueError:  # already registered in this process
        pass


register_auto_classes()
# Also copy modeling_digits.py into every saved folder and name it in config.json ("auto_map"),
# so the folder alone is enough for someone who passes trust_remote_code=True.
DigitsConfig.register_for_auto_class()
DigitsForImageClassification.register_for_auto_class("AutoModelForImageClassification")


def from_mixin_model(mlp: nn.Module) -> DigitsForImageClassification:
    """Re-package a trained DigitsMLP: same parameter names, so load_state_dict is exact."""
    first, last = mlp.net[0], mlp.net[2]
    config = DigitsConfig(
        n_features=first.in_features, hidden=first.out_features, n_classes=last.out_features
    )
    model = DigitsForImageClassification(config)
    model.load_state_dict(mlp.state_dict(), strict=True)
    return model.eval()


def load_native(
    name_or_path: str | Path, *, revision: str | None = None, cache_dir: str | Path | None = None
) -> DigitsForImageClassification:
    """Load through the Auto classes, exactly as a user of a Hub model would: pinned, safetensors.

    A local folder needs no revision (it cannot move under you); a repo id needs a commit sha.
    `use_safetensors=True` refuses a repo that only ships `pytorch_model.bin` (a pickle).
    """
    if not is_local_folder(name_or_path):
        require_commit(str(name_or_path), revision)
    try:
        return AutoModelForImageClassification.from_pretrained(
            str(name_or_path), revision=revision, cache_dir=cache_dir, use_safetensors=True
        ).eval()
    except (OSError, ValueError) as exc:
        raise ShareError(f"cannot load {name_or_path!s} with the Auto classes: {exc}") from exc


def _main(argv: list[str] | None) -> int:
    from model_sharing.classifier import load_classifier
    from model_sharing.receipt import weights_sha256

    p = OneLineParser(prog="ms-native", description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="src", type=Path, default=Path("outputs/digits-mlp"))
    p.add_argument("--out", type=Path, default=Path("outputs/digits-native"))
    args = p.parse_args(argv)
    check_out(args.out)
    model = from_mixin_model(load_classifier(args.src))
    model.save_pretrained(args.out)
    loaded = load_native(args.out)
    print(f"saved {sorted(f.name for f in args.out.iterdir())}")
    print(f"loaded back as {type(loaded).__name__} via AutoModelForImageClassification")
    same = weights_sha256(model.state_dict()) == weights_sha256(loaded.state_dict())
    print(f"weights_sha256 identical after the round trip: {same}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
