"""The same training with PyTorch Lightning: `Trainer(strategy="ddp")` instead of hand-written DDP.

Lightning starts the extra processes itself, inserts a DistributedSampler seeded with the global
seed (and calls set_epoch for you), wraps the model in DDP and averages gradients. With the same
seed, global batch and data it trains the same model as `train.py --strategy ddp` - the tests check
that. On a CPU use `ddp`: Lightning's `fsdp` strategy refuses a CPU accelerator (checked in the tests);
`--probe` shows what each strategy says on this machine when the Trainer is built.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from scaling_multi_gpu import receipt
from scaling_multi_gpu.data import make_datasets
from scaling_multi_gpu.models import build_model, evaluate
from scaling_multi_gpu.plumbing import (
    BadInput,
    OneLineParser,
    check_out,
    finite_float,
    require_positive,
    run_at_edge,
    seed_int,
)
from scaling_multi_gpu.train import TrainConfig


def lightning_module(cfg: TrainConfig):
    import lightning as L

    class LitClassifier(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = build_model(cfg.model, cfg.num_classes, cfg.image_size, cfg.seed)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.model(x), y, reduction=cfg.loss_reduction)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=cfg.lr, momentum=cfg.momentum)

    return LitClassifier()


def probe_strategies(
    strategies: list[str], devices: int, accelerator: str = "auto"
) -> dict[str, str]:
    """Which Lightning strategies accept this machine? Builds a Trainer for each, trains nothing."""
    import lightning as L

    verdicts = {}
    for name in strategies:
        try:
            L.Trainer(strategy=name, accelerator=accelerator, devices=devices, logger=False)
            verdicts[name] = "accepted"
        except Exception as exc:  # noqa: BLE001 - we report whatever Lightning (or DeepSpeed) says
            verdicts[name] = f"refused: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return verdicts


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--strategy",
        default="ddp",
        help="any Lightning strategy name: ddp, fsdp, deepspeed_stage_2, ...",
    )
    p.add_argument("--devices", type=int, default=2, help="processes (CPU) or GPUs")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--steps", type=int, default=TrainConfig.steps)
    p.add_argument("--global-batch", type=int, default=TrainConfig.global_batch)
    p.add_argument("--lr", type=finite_float, default=TrainConfig.lr)
    p.add_argument("--out", type=Path, default=Path("outputs/lightning"))
    p.add_argument(
        "--probe", action="store_true", help="only report which strategies Lightning accepts here"
    )
    args = p.parse_args(argv)

    def body() -> None:
        if args.probe:
            # Only the Trainer is built: a strategy may still fail later, in fit().
            strategies = ["ddp", "fsdp", "deepspeed_stage_2"]
            for name, verdict in probe_strategies(
                strategies, args.devices, args.accelerator
            ).items():
                print(f"{name:<18} {verdict} (at Trainer construction)")
            return
        # Everything is checked HERE, in the one process: after fit() starts, Lightning has launched
        # the other ranks, and each would print its own traceback.
        require_positive(devices=args.devices, steps=args.steps, lr=args.lr)
        require_positive(global_batch=args.global_batch)
        if args.global_batch % args.devices:
            raise BadInput(
                f"--global-batch {args.global_batch} must divide evenly over --devices {args.devices}"
            )
        check_out(args.out)
        train(args, build_trainer(args))

    return run_at_edge(body)


def build_trainer(args: argparse.Namespace):
    """The Trainer, built before any rank starts: an unknown strategy or accelerator is bad input."""
    import logging

    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # "GPU available: ..." lines
    try:
        return L.Trainer(
            strategy=args.strategy,
            accelerator=args.accelerator,
            devices=args.devices,
            max_steps=args.steps,
            deterministic=True,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=sys.stderr.isatty(),
        )
    except (MisconfigurationException, ValueError) as exc:
        raise BadInput(
            f"--strategy {args.strategy} --accelerator {args.accelerator}: {exc}"
        ) from None


def train(args: argparse.Namespace, trainer) -> None:
    import lightning as L

    started = time.time()
    cfg = TrainConfig(
        strategy=f"lightning-{args.strategy}",
        seed=args.seed,
        steps=args.steps,
        global_batch=args.global_batch,
        lr=args.lr,
    )
    L.seed_everything(
        cfg.seed, workers=True
    )  # also exported (PL_GLOBAL_SEED) to the processes it starts
    train_set, test_set = make_datasets(cfg)
    module = lightning_module(cfg)
    # Per-device batch; Lightning swaps in a DistributedSampler(shuffle=True, seed=the global seed).
    loader = DataLoader(
        train_set, batch_size=cfg.global_batch // trainer.world_size, shuffle=True, drop_last=True
    )
    trainer.fit(module, loader)
    if trainer.global_rank != 0:
        return
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    metrics = {
        "world_size": trainer.world_size,
        "final_loss": float(trainer.callback_metrics["train_loss"]),
        "test_accuracy": evaluate(state, cfg, test_set),
    }
    sha = receipt.weights_sha256(state)
    receipt.write_run_json(
        args.out,
        seed=cfg.seed,
        config={**vars(args), "out": str(args.out), "n_samples": cfg.n_samples},
        metrics=metrics,
        weights_sha256=sha,
        data_sha256=receipt.data_sha256(*train_set.tensors),
        started=started,
        device="cuda" if torch.cuda.is_available() else "cpu",
    )
    print(
        f"lightning {args.strategy} x{trainer.world_size}  acc {metrics['test_accuracy']:.3f}  weights {sha[:12]}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
