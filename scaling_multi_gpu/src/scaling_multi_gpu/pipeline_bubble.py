"""The pipeline bubble, measured: how long each stage idles while the pipe fills and drains.

With p stages and m micro-batches, GPipe keeps every stage busy for m of (m + p - 1) time slots,
so the idle fraction - the "bubble" - is (p - 1) / (m + p - 1): 1/2, 1/3, 1/5, 1/9 for p = 2 and
m = 1, 2, 4, 8. 1F1B has the same bubble; it only holds fewer micro-batches' activations at once.

Each stage's compute here is a fixed-length sleep (forward t, backward 2t, split over the
micro-batches), a stand-in for GPU kernels: two processes on 2 shared CPU cores would otherwise
measure the fight for the cores, not the schedule. The stages, the schedules and the gloo
send/recv are the real ones. bubble = 1 - busy / step time, where busy is the time this rank
really spent in its (sleeping) forwards and backwards: a sleep that wakes late counts as work,
waiting for a message counts as bubble. On a shared machine the absolute times are noisy: read
the ratios, not the milliseconds.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

SCHEDULES = {"gpipe": ScheduleGPipe, "1f1b": Schedule1F1B}
FORWARD_S = 0.04  # one stage's forward over the whole batch; backward takes twice as long
BATCH = 64
WIDTH = 8
busy_seconds = [0.0]  # time this process spent inside FixedWork since the last reset


class FixedWork(torch.autograd.Function):
    """Identity whose forward sleeps `seconds` and whose backward sleeps twice that."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, seconds: float) -> torch.Tensor:
        work(seconds)
        ctx.seconds = seconds
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        work(2 * ctx.seconds)
        return grad, None


def work(seconds: float) -> None:
    t0 = time.perf_counter()
    time.sleep(seconds)
    busy_seconds[0] += time.perf_counter() - t0


class SleepingStage(nn.Module):
    """A stage whose work is proportional to its micro-batch, like a real layer's."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(WIDTH, WIDTH)  # something to hold gradients

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return FixedWork.apply(self.linear(x), FORWARD_S * x.shape[0] / BATCH)


def theory(stages: int, micro_batches: int) -> float:
    return (stages - 1) / (micro_batches + stages - 1)


def measure(schedule: str, micro_batches: int, steps: int = 2) -> float:
    """Measured bubble of one schedule on this launch's ranks (a collective: every rank calls it)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    stage = PipelineStage(SleepingStage(), rank, world, torch.device("cpu"))
    pipe = SCHEDULES[schedule](stage, n_microbatches=micro_batches, loss_fn=F.mse_loss)
    x, target = torch.ones(BATCH, WIDTH), torch.zeros(BATCH, WIDTH)
    bubbles = []
    for _ in range(steps + 1):  # the first step also infers shapes: not timed
        dist.barrier()
        busy_seconds[0] = 0.0
        t0 = time.perf_counter()
        if stage.is_first:
            pipe.step(x)
        elif stage.is_last:
            pipe.step(target=target)
        else:
            pipe.step()
        dist.barrier()  # the step ends when the LAST stage is done
        bubbles.append(1 - busy_seconds[0] / (time.perf_counter() - t0))
    # Noise only ever adds idle time: the least idle step is the least disturbed. Mean over ranks.
    mean = torch.tensor(min(bubbles[1:]))
    dist.all_reduce(mean)
    return mean.item() / world


def bubble_table(micro_batches: tuple[int, ...] = (1, 2, 4, 8)) -> list[dict[str, float | str]]:
    """GPipe for every m, 1F1B where it is defined (m >= stages); rows for summary.json."""
    world = dist.get_world_size()
    rows = []
    for schedule in SCHEDULES:
        for m in micro_batches:
            if schedule == "1f1b" and m < world:
                continue
            measured = measure(schedule, m)
            rows.append(
                {
                    "schedule": schedule,
                    "stages": world,
                    "micro_batches": m,
                    "measured": round(measured, 4),
                    "theory": round(theory(world, m), 4),
                }
            )
    return rows
