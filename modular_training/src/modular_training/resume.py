"""Does a resumed run end with the same weights as one that never stopped? Measure it.

For each setup we train three times: uninterrupted; stopped after epoch 1 and resumed; crashed in
the middle of epoch 1 and resumed from the checkpoint saved there. Then we compare the final
weights. The naive setup (plain shuffled DataLoader, no reseeding) does not match; neither do
all the fixes without the Lightning #21938 workaround; with every fix in `determinism.py` each
row matches bit for bit.

Run:  uv run mt-resume                  (workers 0, ~1 minute)
      uv run mt-resume --workers 0 2    (also with 2 DataLoader worker processes)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from modular_training.determinism import InterruptAt, SimulatedCrash
from modular_training.receipt import weights_sha256
from modular_training.step3_lightning import quiet_known_warnings, run

EPOCHS = 3
STEPS_PER_EPOCH = 40  # 1,257 training images / batch 32, rounded up
MID_EPOCH_STEP = STEPS_PER_EPOCH + 17  # inside epoch 1


@dataclass
class Setup:
    """Which of the fixes are on. `naive` = all off; `fixed` = all on."""

    name: str
    resumable: bool  # epoch-seeded sampler + StatefulDataLoader
    reseed_every_step: bool
    epoch_workaround: bool = True  # Lightning #21938

    def flags(self) -> list[str]:
        def flag(name: str, value: bool) -> str:
            return f"--{name}={str(value).lower()}"

        return [
            flag("data.resumable", self.resumable),
            flag("model.reseed_every_step", self.reseed_every_step),
            flag("data.epoch_workaround", self.epoch_workaround),
        ]


NAIVE = Setup("naive", resumable=False, reseed_every_step=False)
FIXED = Setup("fixed", resumable=True, reseed_every_step=True)
# Everything fixed except the workaround for Lightning #21938: shows why it is there.
NO_21938_WORKAROUND = Setup("no-21938-workaround", True, True, epoch_workaround=False)


def last_weights(out: Path) -> str:
    """Hash of the weights at the very end of training (last.ckpt), before any best-checkpoint reload."""
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return weights_sha256(ckpt["state_dict"])


def train(out: Path, setup: Setup, workers: int, extra: list[str] = (), callbacks=None) -> None:
    args = [
        f"--out={out}",
        f"--trainer.max_epochs={EPOCHS}",
        "--trainer.enable_progress_bar=false",
        f"--data.num_workers={workers}",
        *setup.flags(),
        *extra,
    ]
    run(args, extra_callbacks=callbacks, verbose=False)


def uninterrupted(root: Path, setup: Setup, workers: int) -> str:
    out = root / f"{setup.name}-w{workers}-full"
    train(out, setup, workers)
    return last_weights(out)


def resumed_after_epoch(root: Path, setup: Setup, workers: int, epoch: int = 1) -> str:
    """Train `epoch` epochs (last.ckpt is written at the end), then continue to EPOCHS from it."""
    out = root / f"{setup.name}-w{workers}-epoch{epoch}"
    train(out, setup, workers, [f"--trainer.max_epochs={epoch}"])
    ckpt = out / "checkpoints" / "last.ckpt"
    train(out, setup, workers, [f"--ckpt_path={ckpt}"])
    return last_weights(out)


def resumed_mid_epoch(root: Path, setup: Setup, workers: int, step: int = MID_EPOCH_STEP) -> str:
    """Crash right after optimiser step `step` (a checkpoint is saved there), then resume from it."""
    out = root / f"{setup.name}-w{workers}-step{step}"
    ckpt = out / "crash.ckpt"
    try:
        train(out, setup, workers, callbacks=[InterruptAt(step, str(ckpt))])
    except SimulatedCrash:
        pass
    else:
        raise AssertionError(f"the run should have crashed after step {step}")
    train(out, setup, workers, [f"--ckpt_path={ckpt}"])
    return last_weights(out)


def compare(root: Path, setup: Setup, workers: int) -> dict[str, str]:
    """Final-weight hashes of the three ways of reaching EPOCHS epochs."""
    return {
        "uninterrupted": uninterrupted(root, setup, workers),
        "after epoch 1": resumed_after_epoch(root, setup, workers),
        f"mid-epoch (step {MID_EPOCH_STEP})": resumed_mid_epoch(root, setup, workers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Resume vs uninterrupted: naive and fixed setups.")
    parser.add_argument("--workers", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: temp)")
    args = parser.parse_args(argv)
    if any(w < 0 for w in args.workers):
        print(f"error: --workers must be >= 0, got {args.workers}", file=sys.stderr)
        return 2
    quiet_known_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        print(f"{'setup':20} {'workers':>7}  {'run':24} {'weights_sha256':14} equal")
        for setup in (NAIVE, NO_21938_WORKAROUND, FIXED):
            for workers in args.workers:
                hashes = compare(root, setup, workers)
                reference = hashes["uninterrupted"]
                for label, digest in hashes.items():
                    same = (
                        "-"
                        if label == "uninterrupted"
                        else ("yes" if digest == reference else "NO")
                    )
                    print(f"{setup.name:20} {workers:>7}  {label:24} {digest[:12]}   {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
