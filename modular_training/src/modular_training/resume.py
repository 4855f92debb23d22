"""Does a resumed run end with the same weights as one that never stopped? Measure it.

For each setup we train three times: uninterrupted; stopped after epoch 1 and resumed; crashed in
the middle of epoch 1 and resumed from the checkpoint saved there. Then we compare the final
weights. The ablation switches each of the four fixes of `determinism.py` off in turn, between
the naive setup (all off) and all four on, with 0 and 2 DataLoader worker processes: only with
every fix on does each resumed run match bit for bit.

Run:  uv run mt-resume                              (the full table, a few minutes)
      uv run mt-resume --workers 0 --figure resume.png
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader
from tqdm import tqdm

from modular_training.determinism import (
    EpochSeededSampler,
    InterruptAt,
    SimulatedCrash,
    resumed_epoch,
)
from modular_training.plumbing import BadInput, OneLineParser, check_out, quiet_known_warnings
from modular_training.receipt import weights_sha256
from modular_training.step3_cli import train as train_and_test
from modular_training.step3_lightning import DigitClassifier, DigitsDataModule

EPOCHS = 3
STEPS_PER_EPOCH = 40  # 1,257 training images / batch 32, rounded up
MID_EPOCH_STEP = STEPS_PER_EPOCH + 17  # inside epoch 1


@dataclass(frozen=True)
class Setup:
    """Which of the four fixes of `determinism.py` are on."""

    name: str
    seeded_sampler: bool = True  # fix 1: shuffle order = f(seed, epoch)
    reseed_every_step: bool = True  # fix 2: dropout = f(seed, step)
    stateful_loader: bool = True  # fix 3: StatefulDataLoader keeps the position in the epoch
    epoch_workaround: bool = True  # fix 4: Lightning #21938

    def flags(self) -> list[str]:
        def flag(name: str, value: bool) -> str:
            return f"--{name}={str(value).lower()}"

        return [
            flag("data.seeded_sampler", self.seeded_sampler),
            flag("model.reseed_every_step", self.reseed_every_step),
            flag("data.stateful_loader", self.stateful_loader),
            flag("data.epoch_workaround", self.epoch_workaround),
        ]


class AblationDataModule(DigitsDataModule):
    """`DigitsDataModule` with fixes 1, 3 and 4 as switches (`--data.seeded_sampler=false`, ...)."""

    def __init__(
        self,
        seeded_sampler: bool = True,
        stateful_loader: bool = True,
        epoch_workaround: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()

    def train_dataloader(self) -> DataLoader:
        h = self.hparams
        if h.seeded_sampler and h.stateful_loader and h.epoch_workaround:
            return super().train_dataloader()  # all on: exactly the file a learner copies
        dataset = TensorDataset(self.splits.x_train, self.splits.y_train)
        loader_class = StatefulDataLoader if h.stateful_loader else DataLoader
        if not h.seeded_sampler:  # the order comes from the global RNG, which no checkpoint stores
            return loader_class(
                dataset, batch_size=h.batch_size, shuffle=True, num_workers=h.num_workers
            )
        sampler = EpochSeededSampler(len(dataset), seed=h.seed)
        if h.epoch_workaround:
            sampler.set_epoch(resumed_epoch(self.trainer))
        return loader_class(
            dataset, batch_size=h.batch_size, sampler=sampler, num_workers=h.num_workers
        )


class AblationClassifier(DigitClassifier):
    """`DigitClassifier` with fix 2 as a switch (`--model.reseed_every_step=false`)."""

    def __init__(self, reseed_every_step: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.hparams.reseed_every_step:
            super().on_train_batch_start(batch, batch_idx)


NAIVE = Setup("naive (all off)", False, False, False, False)
NO_SAMPLER = Setup("without fix 1 (sampler)", seeded_sampler=False)
NO_RESEED = Setup("without fix 2 (reseed)", reseed_every_step=False)
NO_STATEFUL = Setup("without fix 3 (stateful)", stateful_loader=False)
NO_21938_WORKAROUND = Setup("without fix 4 (#21938)", epoch_workaround=False)
FIXED = Setup("all four fixes")
# The ablation: each fix switched off in turn, between "nothing" and "everything".
SETUPS = (NAIVE, NO_SAMPLER, NO_RESEED, NO_STATEFUL, NO_21938_WORKAROUND, FIXED)
AFTER_EPOCH, MID_EPOCH = "after epoch 1", f"mid-epoch (step {MID_EPOCH_STEP})"


def last_weights(out: Path) -> str:
    """Hash of the weights at the very end of training (last.ckpt), before any best-checkpoint reload."""
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return weights_sha256(ckpt["state_dict"])


def train(
    out: Path, setup: Setup, workers: int, extra: list[str] = (), callbacks: list | None = None
) -> None:
    args = [
        f"--out={out}",
        f"--trainer.max_epochs={EPOCHS}",
        "--trainer.enable_progress_bar=false",
        f"--data.num_workers={workers}",
        *setup.flags(),
        *extra,
    ]
    train_and_test(
        args,
        callbacks=callbacks or [],
        verbose=False,
        classes=(AblationClassifier, AblationDataModule),
    )


def slug(setup: Setup) -> str:
    return "".join(c if c.isalnum() else "-" for c in setup.name)


def uninterrupted(root: Path, setup: Setup, workers: int) -> str:
    out = root / f"{slug(setup)}-w{workers}-full"
    train(out, setup, workers)
    return last_weights(out)


def resumed_after_epoch(root: Path, setup: Setup, workers: int, epoch: int = 1) -> str:
    """Train `epoch` epochs (last.ckpt is written at the end), then continue to EPOCHS from it."""
    out = root / f"{slug(setup)}-w{workers}-epoch{epoch}"
    train(out, setup, workers, [f"--trainer.max_epochs={epoch}"])
    ckpt = out / "checkpoints" / "last.ckpt"
    train(out, setup, workers, [f"--ckpt_path={ckpt}"])
    return last_weights(out)


def resumed_mid_epoch(root: Path, setup: Setup, workers: int, step: int = MID_EPOCH_STEP) -> str:
    """Crash right after optimiser step `step` (a checkpoint is saved there), then resume from it."""
    out = root / f"{slug(setup)}-w{workers}-step{step}"
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
        AFTER_EPOCH: resumed_after_epoch(root, setup, workers),
        MID_EPOCH: resumed_mid_epoch(root, setup, workers),
    }


def ablation(root: Path, workers: list[int]) -> dict[tuple[str, int], dict[str, str]]:
    """The full table: every setup, every worker count -> the three final-weight hashes."""
    table = {}
    with tqdm(total=len(SETUPS) * len(workers), desc="resume ablation", unit="setup") as bar:
        for setup in SETUPS:
            for w in workers:
                table[setup.name, w] = compare(root / f"w{w}", setup, w)
                bar.update()
    return table


def print_table(table: dict[tuple[str, int], dict[str, str]]) -> None:
    """Markdown: does each resumed run end with the uninterrupted run's weights?"""
    print(f"\n| setup | workers | resumed {AFTER_EPOCH} | resumed {MID_EPOCH} |\n|---|---|---|---|")
    for (name, workers), hashes in table.items():
        cells = [
            "identical" if hashes[c] == hashes["uninterrupted"] else "different"
            for c in (AFTER_EPOCH, MID_EPOCH)
        ]
        print(f"| {name} | {workers} | {cells[0]} | {cells[1]} |")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="mt-resume",
        description="Resume vs uninterrupted, with each of the four fixes switched off in turn.",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: temp)")
    parser.add_argument("--figure", type=Path, default=None, help="also draw the table as a PNG")
    args = parser.parse_args(argv)
    if any(w < 0 for w in args.workers):
        parser.error(f"--workers must be >= 0, got {args.workers}")
    try:  # both outputs checked before minutes of training
        if args.out is not None:
            check_out(args.out)
        if args.figure is not None:
            check_out(args.figure, "--figure", folder=False)
    except BadInput as exc:
        parser.error(str(exc))
    quiet_known_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        table = ablation(args.out or Path(tmp), args.workers)
    print_table(table)
    if args.figure:
        from modular_training.figures import resume_figure

        print(f"wrote {resume_figure(table, args.figure)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
