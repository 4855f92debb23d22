"""One training script, several strategies: single | dp | ddp | fsdp | deepspeed (ZeRO 1/2/3).

Launch it with torchrun (`torchrun --standalone --nproc-per-node 2 -m scaling_multi_gpu.train
--strategy ddp`). The backend follows the hardware: nccl on GPU, gloo on CPU. The same seed and the
same *global* batch give the same model whatever the strategy: every rank builds the same initial
weights (seeded before construction), DistributedSampler hands each rank its slice of one seeded
permutation, and the mean loss makes averaged gradients equal the one-process gradient.

Several strategies can run one after another in one launch (`--strategy ddp,fsdp,zero3`), each
reseeded from scratch: starting processes costs more than training this small model.
Every run prints and records in run.json: samples/s, step time, peak memory per rank, and on GPU
the achieved TFLOP/s and MFU (model FLOPs utilisation: achieved / datasheet peak).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

# cuBLAS needs this set before CUDA initialises to be deterministic (harmless on CPU).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm import tqdm

from scaling_multi_gpu import receipt
from scaling_multi_gpu.cli import UsageError, run_cli
from scaling_multi_gpu.data import cifar100, dataset_tensors, synthetic_images
from scaling_multi_gpu.hwinfo import peak_tflops
from scaling_multi_gpu.models import build_model

TOPIC_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = TOPIC_ROOT / "configs"
STRATEGIES = ("single", "dp", "ddp", "fsdp", "deepspeed")
ZERO_SHORTHANDS = {"zero1": 1, "zero2": 2, "zero3": 3}  # = deepspeed with configs/zero<n>.json


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes the trained weights (and goes into run.json)."""

    strategy: str = "single"
    loss_reduction: str = "mean"  # "sum" is the classic bug under DDP: see equivalence.py
    deepspeed_config: str | None = None
    seed: int = 0
    steps: int = 40
    global_batch: int = 64  # split evenly over ranks: local batch = global_batch / world size
    lr: float = 0.05
    momentum: float = 0.0
    model: str = "small"
    data: str = "synthetic"
    n_samples: int = 2048
    image_size: int = 32
    num_classes: int = 10
    precision: str = "fp32"
    num_workers: int = 0
    deterministic: bool = True

    @property
    def variant(self) -> str:
        """Folder name of this run: the strategy, plus the loss reduction when it is not mean."""
        name = self.strategy
        if self.strategy == "deepspeed":
            name = f"zero{load_deepspeed_config(self)['zero_optimization'].get('stage', 0)}"
        return name if self.loss_reduction == "mean" else f"{name}-{self.loss_reduction}"


# --------------------------------------------------------------------------- distributed set-up
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


def seed_everything(seed: int, deterministic: bool) -> None:
    """Same seed on every rank: identical initial weights without relying on a broadcast."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    # warn_only: an op without a deterministic kernel (e.g. AdaptiveAvgPool2d backward on CUDA, in
    # ResNet) is named in a warning instead of stopping the run; read the warnings.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = (
        not deterministic
    )  # autotuning may pick different kernels per run


# --------------------------------------------------------------------------- strategies
def load_deepspeed_config(cfg: TrainConfig) -> dict[str, Any]:
    path = Path(cfg.deepspeed_config) if cfg.deepspeed_config else CONFIG_DIR / "zero2.json"
    if not path.is_file():
        raise UsageError(f"DeepSpeed config not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"DeepSpeed config {path} is not valid JSON: {exc}") from exc


def wrap_model(model: nn.Module, cfg: TrainConfig, d: Dist, local_batch: int):
    """Return (module to call, optimizer, deepspeed engine or None) for the chosen strategy."""
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
    if cfg.strategy == "single":
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
        return nn.parallel.DistributedDataParallel(model, device_ids=ids), optimizer, None
    if cfg.strategy == "fsdp":
        return model, optimizer, None
    if cfg.strategy == "deepspeed":
        return wrap_deepspeed(model, optimizer, cfg, d, local_batch)
    raise UsageError(f"unknown strategy {cfg.strategy!r}")


def wrap_deepspeed(model: nn.Module, optimizer, cfg: TrainConfig, d: Dist, local_batch: int):
    """DeepSpeed ZeRO from a JSON config; batch sizes come from the command line, not the file."""
    import logging

    if d.device.type == "cpu":  # else DeepSpeed picks CUDA where present and moves the model there
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    # DeepSpeed JIT-compiles a C++ op with whichever `ninja` comes first on PATH. Two ninja versions
    # (the system's, this environment's) invalidate each other's build log and force a full rebuild
    # (35 s to 2 min) on every run: always use the one installed beside this interpreter.
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )
    # For the same reason, one build folder per environment: two environments (a checkout and a
    # copy of it, or two projects) sharing ~/.cache/torch_extensions rebuild it for each other.
    if "TORCH_EXTENSIONS_DIR" not in os.environ:
        env_id = hashlib.sha256(sys.prefix.encode()).hexdigest()[:10]
        cache = Path.home() / ".cache" / "torch_extensions" / f"env-{env_id}"
        os.environ["TORCH_EXTENSIONS_DIR"] = str(cache)
    import deepspeed

    deepspeed.utils.logger.setLevel(logging.WARNING)
    ds_config = load_deepspeed_config(cfg)
    ds_config.update(
        train_micro_batch_size_per_gpu=local_batch,
        gradient_accumulation_steps=1,
        train_batch_size=local_batch * d.world,
    )
    engine, ds_optimizer, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, config=ds_config, dist_init_required=False
    )
    return engine, ds_optimizer, engine


def full_state_dict(module, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """Gather the complete weights on every rank, whatever the sharding (a collective call)."""
    if cfg.strategy == "deepspeed":
        import deepspeed

        params = list(module.module.parameters())
        with deepspeed.zero.GatheredParameters(params, modifier_rank=None):  # no-op below ZeRO-3
            return {k: v.detach().cpu().clone() for k, v in module.module.state_dict().items()}
    if cfg.strategy == "fsdp":
        from torch.distributed.tensor import DTensor

        return {
            k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu().clone()
            for k, v in module.state_dict().items()
        }
    inner = (
        module.module
        if isinstance(module, nn.DataParallel | nn.parallel.DistributedDataParallel)
        else module
    )
    return {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()}


# --------------------------------------------------------------------------- measuring
def model_flops_per_sample(model: nn.Module, cfg: TrainConfig) -> float:
    """Forward + backward FLOPs for one sample, counted on a meta-device copy (costs no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    meta = copy.deepcopy(model).to("meta")
    x = torch.empty(1, 3, cfg.image_size, cfg.image_size, device="meta")
    with FlopCounterMode(display=False) as counter:
        meta(x).sum().backward()
    return float(counter.get_total_flops())


def peak_memory_mib(device: torch.device) -> float:
    """Peak GPU memory allocated by tensors (reset per run), or on CPU the process's peak resident
    memory so far - which includes the Python runtime and any earlier run in the same launch."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def gather(value: Any, d: Dist) -> list[Any]:
    if d.backend is None:
        return [value]
    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, value)
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":  # GPU work is asynchronous: time only what has finished
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- training
def make_datasets(cfg: TrainConfig):
    if cfg.data == "synthetic":
        # One generator for train and test: same class templates, fresh noise for the 512 test images.
        full = synthetic_images(cfg.n_samples + 512, cfg.num_classes, cfg.image_size, seed=cfg.seed)
        images, labels = full.tensors
        train = TensorDataset(images[: cfg.n_samples], labels[: cfg.n_samples])
        return train, TensorDataset(images[cfg.n_samples :], labels[cfg.n_samples :])
    if cfg.data == "cifar100":
        root = Path(os.environ.get("DATA_DIR", "data"))
        return cifar100(root, cfg.image_size, train=True), cifar100(
            root, cfg.image_size, train=False
        )
    raise UsageError(f"unknown data {cfg.data!r} (choose synthetic or cifar100)")


def evaluate(state: dict[str, torch.Tensor], cfg: TrainConfig, test_set) -> float:
    """Accuracy of the gathered weights on held-out data, in a fresh unwrapped model."""
    model = build_model(cfg.model, cfg.num_classes, cfg.image_size, cfg.seed)
    model.load_state_dict(state)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in DataLoader(test_set, batch_size=256):
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def train_one(
    cfg: TrainConfig, d: Dist, out_dir: Path, command: list[str] | None = None
) -> dict[str, Any]:
    """Train one strategy from scratch; rank 0 writes run.json and weights.pt into out_dir."""
    started = time.time()
    if cfg.strategy in ("single", "dp") and d.world > 1:
        raise UsageError(f"--strategy {cfg.strategy} runs in one process: launch without torchrun")
    if cfg.strategy in ("ddp", "fsdp", "deepspeed") and d.backend is None:
        raise UsageError(f"--strategy {cfg.strategy} needs a process group: launch with torchrun")
    if cfg.global_batch % d.world:
        raise UsageError(
            f"--global-batch {cfg.global_batch} is not divisible by world size {d.world}"
        )
    local_batch = cfg.global_batch // d.world

    seed_everything(cfg.seed, cfg.deterministic)
    if d.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(d.device)
    # A download must happen once: rank 0 fetches CIFAR-100 while the others wait, then they read it.
    download_first = cfg.data == "cifar100" and d.backend is not None
    if download_first and d.rank != 0:
        dist.barrier()
    train_set, test_set = make_datasets(cfg)
    if download_first and d.rank == 0:
        dist.barrier()
    model = build_model(cfg.model, cfg.num_classes, cfg.image_size, cfg.seed)
    flops_per_sample = model_flops_per_sample(model, cfg)
    module, optimizer, engine = wrap_model(model, cfg, d, local_batch)

    # One seeded permutation per epoch, sliced per rank: together the ranks see exactly the
    # global batch a single process would see. set_epoch() reshuffles; forgetting it repeats order.
    sampler = DistributedSampler(
        train_set, num_replicas=d.world, rank=d.rank, shuffle=True, seed=cfg.seed, drop_last=True
    )
    loader = DataLoader(
        train_set,
        batch_size=local_batch,
        sampler=sampler,
        drop_last=True,
        num_workers=cfg.num_workers,
        pin_memory=d.device.type
        == "cuda",  # page-locked host memory: faster, async host->GPU copies
        persistent_workers=cfg.num_workers > 0,
    )
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")

    step_times, losses, step, epoch = [], [], 0, 0
    progress = tqdm(
        total=cfg.steps, desc=f"{cfg.variant} x{d.world}", disable=d.rank != 0, leave=False
    )
    while step < cfg.steps:
        sampler.set_epoch(epoch)
        for x, y in loader:
            if step == cfg.steps:
                break
            sync(d.device)
            t0 = time.perf_counter()
            x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
            with autocast:
                loss = F.cross_entropy(module(x), y, reduction=cfg.loss_reduction)
            if engine is not None:
                engine.backward(loss)
                engine.step()
            else:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            sync(d.device)
            step_times.append(time.perf_counter() - t0)
            losses.append(loss.item())
            step += 1
            progress.update()
        epoch += 1
    progress.close()

    state = full_state_dict(module, cfg)
    memory = gather(round(peak_memory_mib(d.device), 1), d)
    final_losses = gather(statistics.fmean(losses[-5:]), d)
    timed = (
        step_times[2:] or step_times
    )  # the first steps pay for warm-up (allocations, NCCL setup)
    step_time = statistics.median(timed)
    metrics: dict[str, Any] = {
        "world_size": d.world,
        "backend": d.backend,
        "final_loss": statistics.fmean(final_losses),
        "samples_per_s": round(cfg.global_batch / step_time, 1),
        "step_time_s": round(step_time, 5),
        "peak_memory_mib_per_rank": memory,
        "model_gflop_per_step": round(flops_per_sample * cfg.global_batch / 1e9, 4),
    }
    achieved = flops_per_sample * local_batch / step_time / 1e12  # per device
    metrics["achieved_tflops_per_device"] = round(achieved, 4)
    metrics["mfu"] = None
    if d.device.type == "cuda":
        peak = peak_tflops(
            torch.cuda.get_device_name(d.device), "bf16" if cfg.precision == "bf16" else "fp32"
        )
        metrics["mfu"] = round(achieved / peak, 6) if peak else None  # tiny for the small CNN

    result = {
        "variant": cfg.variant,
        "metrics": metrics,
        "weights_sha256": receipt.weights_sha256(state),
    }
    if d.rank == 0:
        metrics["test_accuracy"] = evaluate(state, cfg, test_set)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / ".weights.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, out_dir / "weights.pt")
        receipt.write_run_json(
            out_dir,
            seed=cfg.seed,
            config={
                **asdict(cfg),
                "world_size": d.world,
                "local_batch": local_batch,
                "torch_threads": torch.get_num_threads(),  # can change the last bits on CPU
            },
            metrics=metrics,
            weights_sha256=result["weights_sha256"],
            data_sha256=receipt.data_sha256(*dataset_tensors(train_set))
            if dataset_tensors(train_set)
            else None,
            started=started,
            device=str(d.device.type),
            command=command,
        )
        print(summary_line(cfg, metrics, result["weights_sha256"]), flush=True)
    if engine is not None:
        engine.destroy()
    if d.backend is not None:
        dist.barrier()
    return result


def summary_line(cfg: TrainConfig, m: dict[str, Any], sha: str) -> str:
    mfu = (
        f", {m['achieved_tflops_per_device']:.2f} TFLOP/s/device, MFU {m['mfu']:.2%}"
        if m["mfu"] is not None
        else ""
    )
    return (
        f"{cfg.variant:<10} x{m['world_size']}  loss {m['final_loss']:.4f}  acc {m.get('test_accuracy', float('nan')):.3f}  "
        f"{m['samples_per_s']:>8.1f} samples/s  step {m['step_time_s'] * 1e3:7.1f} ms  "
        f"peak mem/rank {m['peak_memory_mib_per_rank']} MiB{mfu}  weights {sha[:12]}"
    )


# --------------------------------------------------------------------------- command line
def parse_variants(spec: str, base: TrainConfig) -> list[TrainConfig]:
    """`ddp,fsdp,zero3,ddp:sum` -> one TrainConfig per entry (zero<n> = deepspeed + configs/zero<n>.json)."""
    configs = []
    for token in filter(None, (t.strip() for t in spec.split(","))):
        name, _, reduction = token.partition(":")
        if reduction not in ("", "mean", "sum"):
            raise UsageError(f"unknown loss reduction {reduction!r} in {token!r} (mean or sum)")
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
            raise UsageError(
                f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES + tuple(ZERO_SHORTHANDS))})"
            )
    if not configs:
        raise UsageError("--strategy is empty")
    for cfg in configs:
        if cfg.strategy == "deepspeed":
            load_deepspeed_config(cfg)  # fail on a bad config now, before any process starts
    return configs


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--strategy",
        default="single",
        help="single|dp|ddp|fsdp|deepspeed|zero1|zero2|zero3, comma-separated for several in one launch; ':sum' suffix = sum-reduced loss",
    )
    p.add_argument(
        "--deepspeed-config",
        default=None,
        help="ZeRO JSON config for --strategy deepspeed (default configs/zero2.json)",
    )
    p.add_argument("--loss-reduction", choices=("mean", "sum"), default=d.loss_reduction)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--global-batch", type=int, default=d.global_batch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--model", choices=("small", "resnet152"), default=d.model)
    p.add_argument("--data", choices=("synthetic", "cifar100"), default=d.data)
    p.add_argument("--n-samples", type=int, default=d.n_samples, help="synthetic training images")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--num-classes", type=int, default=d.num_classes)
    p.add_argument("--precision", choices=("fp32", "bf16"), default=d.precision)
    p.add_argument("--num-workers", type=int, default=d.num_workers)
    p.add_argument("--no-deterministic", dest="deterministic", action="store_false")
    p.add_argument(
        "--device",
        choices=("auto", "cpu"),
        default="auto",
        help="auto: GPU + nccl when present, else CPU + gloo",
    )
    p.add_argument(
        "--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS
    )  # deepspeed launcher
    p.add_argument("--out", type=Path, default=Path("outputs/train"))
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if args.steps < 1 or args.global_batch < 1 or args.lr <= 0:
        raise UsageError("--steps, --global-batch and --lr must be positive")
    if args.data == "cifar100":
        args.num_classes = 100
    return TrainConfig(
        **{
            k: v
            for k, v in vars(args).items()
            if k in TrainConfig.__dataclass_fields__ and k != "strategy"
        }
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        base = config_from_args(args)
        variants = parse_variants(args.strategy, base)
        d = init_distributed(args.device)
        try:
            for cfg in variants:
                out = args.out / cfg.variant if len(variants) > 1 else args.out
                train_one(
                    cfg,
                    d,
                    out,
                    command=[Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])],
                )
        finally:
            if d.backend is not None and dist.is_initialized():
                dist.destroy_process_group()

    return run_cli(body)


if __name__ == "__main__":
    raise SystemExit(main())
