"""The strategies side by side: how ONE model becomes dp, ddp, fsdp or DeepSpeed ZeRO.

Each strategy is a few lines of the library's own API: `nn.DataParallel`, `DistributedDataParallel`,
FSDP2's `fully_shard`, `deepspeed.initialize`. What differs is where the gradients are averaged
and who holds which part of the weights - not the model, the data or the update (train.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from scaling_multi_gpu.plumbing import BadInput, stable_deepspeed_build_cache

if TYPE_CHECKING:
    from scaling_multi_gpu.train import TrainConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
STRATEGIES = ("single", "dp", "ddp", "fsdp", "deepspeed")
ZERO_SHORTHANDS = {"zero1": 1, "zero2": 2, "zero3": 3}  # = deepspeed with configs/zero<n>.json


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str | None  # None: no process group (a plain single-process run)


def init_distributed(device: str = "auto") -> Dist:
    """Join the process group torchrun described in the environment; nccl on GPU, gloo on CPU.

    device="cpu" forces CPU + gloo even where GPUs exist (the equivalence lesson is a CPU one).
    """
    launched = "RANK" in os.environ  # torchrun, `srun` wrappers and the deepspeed launcher set it
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device != "cpu" and torch.cuda.is_available():
        chosen, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(chosen)
    else:
        chosen, backend = torch.device("cpu"), "gloo"
    if not launched:
        return Dist(0, 1, 0, chosen, None)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local_rank, chosen, backend)


def check_launch(cfg: TrainConfig, d: Dist) -> None:
    """Refuse a launch that cannot train this strategy, before any weight is built."""
    if cfg.strategy in ("single", "dp") and d.world > 1:
        raise BadInput(f"--strategy {cfg.strategy} runs in one process: launch without torchrun")
    if cfg.strategy in ("ddp", "fsdp", "deepspeed") and d.backend is None:
        raise BadInput(f"--strategy {cfg.strategy} needs a process group: launch with torchrun")
    if cfg.global_batch % (d.world * cfg.grad_accum):
        raise BadInput(f"--global-batch {cfg.global_batch} is not divisible by world size {d.world} x --grad-accum {cfg.grad_accum}")  # fmt: skip
    if cfg.grad_accum > 1 and cfg.loss_reduction == "sum":
        raise BadInput("--grad-accum needs the mean loss (a summed loss is the DDP bug lesson)")


def load_deepspeed_config(cfg: TrainConfig) -> dict[str, Any]:
    path = Path(cfg.deepspeed_config) if cfg.deepspeed_config else CONFIG_DIR / "zero2.json"
    if not path.is_file():
        raise BadInput(f"DeepSpeed config not found: {path}")
    try:
        config = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"DeepSpeed config {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("zero_optimization", {}), dict):
        raise BadInput(
            f"DeepSpeed config {path} is not a JSON object with a zero_optimization object"
        )
    return config


def parse_variants(spec: str, base: TrainConfig) -> list[TrainConfig]:
    """`ddp,fsdp,zero3,ddp:sum` -> one TrainConfig per entry (zero<n> = deepspeed + configs/zero<n>.json)."""
    configs = []
    for token in filter(None, (t.strip() for t in spec.split(","))):
        name, _, reduction = token.partition(":")
        if reduction not in ("", "mean", "sum"):
            raise BadInput(f"unknown loss reduction {reduction!r} in {token!r} (mean or sum)")
        if reduction == "sum" and base.loss_reduction == "mean":
            # lr / global batch makes a summed loss take the same step as the mean on ONE process,
            # so any difference that remains under DDP is the bug, not a different learning rate.
            base_for_token = replace(base, loss_reduction="sum", lr=base.lr / base.global_batch)
        else:
            base_for_token = replace(base, loss_reduction=reduction or base.loss_reduction)
        if name in ZERO_SHORTHANDS:
            zero_config = str(CONFIG_DIR / f"{name}.json")
            configs.append(
                replace(base_for_token, strategy="deepspeed", deepspeed_config=zero_config)
            )
        elif name in STRATEGIES:
            configs.append(replace(base_for_token, strategy=name))
        else:
            raise BadInput(
                f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES + tuple(ZERO_SHORTHANDS))})"
            )
    if not configs:
        raise BadInput("--strategy is empty")
    for cfg in configs:
        if cfg.strategy == "deepspeed":
            load_deepspeed_config(cfg)  # fail on a bad config now, before any process starts
    return configs


def wrap_model(model: nn.Module, cfg: TrainConfig, d: Dist, micro_batch: int):
    """Return (module to call, optimizer, deepspeed engine or None) for the chosen strategy."""
    if cfg.sync_bn:
        # BatchNorm normalises with the statistics of the LOCAL batch; SyncBatchNorm all-reduces
        # them so 2 ranks x 32 images normalise like 1 process x 64. It has no CPU implementation.
        if d.device.type != "cuda" or cfg.strategy not in ("ddp", "fsdp"):
            raise BadInput("--sync-bn needs GPUs and --strategy ddp or fsdp")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(d.device)
    if cfg.strategy == "fsdp":
        # FSDP2: shard every layer's parameters across ranks, then the root. Optimizer after sharding.
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(d.device.type, (d.world,))
        for layer in model.children():
            if any(p.requires_grad for p in layer.parameters()):
                fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    if cfg.strategy in ("single", "fsdp"):
        return model, optimizer, None
    if cfg.strategy == "dp":
        # Threads in ONE process scatter the batch over the GPUs. Without GPUs there is nothing
        # to scatter to: DataParallel would just call the model, so we say so and do that.
        if d.device.type != "cuda":
            print(
                "note: nn.DataParallel needs GPUs; on CPU this is a single-process run", flush=True
            )
            return model, optimizer, None
        return nn.DataParallel(model), optimizer, None
    if cfg.strategy == "ddp":
        # One process per device; gradients are averaged in buckets while backward still runs.
        ids = [d.local_rank] if d.device.type == "cuda" else None
        return DDP(model, device_ids=ids), optimizer, None
    if cfg.strategy == "deepspeed":
        return wrap_deepspeed(model, optimizer, cfg, d, micro_batch)
    raise BadInput(f"unknown strategy {cfg.strategy!r}")


def wrap_deepspeed(model: nn.Module, optimizer, cfg: TrainConfig, d: Dist, micro_batch: int):
    """DeepSpeed ZeRO from a JSON config; batch sizes come from the command line, not the file."""
    import logging

    if d.device.type == "cpu":  # else DeepSpeed picks CUDA where present and moves the model there
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    stable_deepspeed_build_cache()  # its C++ op: built once per environment (see plumbing.py)
    import deepspeed

    deepspeed.utils.logger.setLevel(logging.WARNING)
    ds_config = load_deepspeed_config(cfg)
    ds_config.update(
        train_micro_batch_size_per_gpu=micro_batch,
        gradient_accumulation_steps=cfg.grad_accum,  # the engine divides the loss by it itself
        train_batch_size=micro_batch * cfg.grad_accum * d.world,
    )
    engine, ds_optimizer, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, config=ds_config, dist_init_required=False
    )
    return engine, ds_optimizer, engine


def grad_sync(module, last_micro_step: bool):
    """Gradient accumulation: skip the all-reduce on every micro-step but the last one.

    Gradients add up locally (`p.grad += ...`) and are averaged over ranks once per optimizer
    step - same result, 1/accumulation of the communication. DeepSpeed does this itself.
    """
    if isinstance(module, DDP) and not last_micro_step:
        return module.no_sync()
    if hasattr(module, "set_requires_gradient_sync"):  # FSDP2's switch for the same thing
        module.set_requires_gradient_sync(last_micro_step)
    return contextlib.nullcontext()


def full_state_dict(module, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """Gather the complete weights on every rank, whatever the sharding (a collective call)."""
    if cfg.strategy == "deepspeed":
        import deepspeed

        params = list(module.module.parameters())
        with deepspeed.zero.GatheredParameters(params, modifier_rank=None):  # no-op below ZeRO-3
            return {k: v.detach().cpu().clone() for k, v in module.module.state_dict().items()}
    if cfg.strategy == "fsdp":  # PyTorch's own gather of the shards, into every rank
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True))
        return {k: v.detach().cpu().clone() for k, v in full.items()}
    inner = module.module if isinstance(module, nn.DataParallel | DDP) else module
    return {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()}
