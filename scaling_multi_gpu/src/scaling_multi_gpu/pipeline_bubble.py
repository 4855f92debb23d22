"""The pipeline bubble, counted and timed: how long each stage idles while the pipe fills and drains.

With p stages and m micro-batches, GPipe keeps every stage busy for m of (m + p - 1) time slots,
so the idle fraction - the "bubble" - is (p - 1) / (m + p - 1): 1/2, 1/3, 1/5, 1/9 for p = 2 and
m = 1, 2, 4, 8. 1F1B has the same bubble; it only holds fewer micro-batches' activations at once.

The real stages, schedules and gloo send/recv run; each stage's compute is a stand-in that
records what ran (forward or backward of which micro-batch) and sleeps (forward t, backward 2t,
split over the micro-batches) - two processes on shared CPU cores would otherwise measure the
fight for the cores, not the schedule. Two numbers come out:

* counted: the order each rank really ran, replayed on a clock where a forward takes 1 slot and
  a backward 2, each waiting for its input from the neighbouring stage. Exact on any machine:
  this is the number the formula predicts (and the tests check).
* measured: 1 - busy / step time with the sleeps. A sleep that wakes late counts as work, waiting
  for a message as bubble, so per-message costs and a busy machine add to it: a benchmark,
  printed, never asserted.
"""

from __future__ import annotations

import time
from fractions import Fraction

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
ran: list[tuple[str, int]] = []  # ("F" or "B", micro-batch) in the order this rank ran them


class FixedWork(torch.autograd.Function):
    """Identity whose forward sleeps `seconds` and whose backward sleeps twice that."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, seconds: float) -> torch.Tensor:
        ctx.micro_batch = sum(kind == "F" for kind, _ in ran)  # micro-batches enter in order
        ran.append(("F", ctx.micro_batch))
        work(seconds)
        ctx.seconds = seconds
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        ran.append(("B", ctx.micro_batch))
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


def counted_bubble(orders: list[list[tuple[str, int]]]) -> Fraction:
    """Idle fraction of a schedule, from the order each stage ran its work (orders[stage]).

    A forward takes 1 slot, a backward 2 (as the sleeps). Forward k of stage s starts when stage s
    is free and stage s-1 has finished forward k; backward k when stage s+1 has finished backward
    k (the last stage: its own forward k). No clock is read: the same orders give the same answer
    on any machine.
    """
    slots = {"F": Fraction(1), "B": Fraction(2)}
    stages, done, free, position = len(orders), {}, [Fraction(0)] * len(orders), [0] * len(orders)
    while any(position[s] < len(orders[s]) for s in range(stages)):
        progressed = False
        for s, order in enumerate(orders):
            while position[s] < len(order):
                kind, mb = order[position[s]]
                if kind == "F":
                    needs = ("F", s - 1, mb) if s > 0 else None
                else:
                    needs = ("B", s + 1, mb) if s < stages - 1 else ("F", s, mb)
                if needs is not None and needs not in done:
                    break  # its input does not exist yet: another stage must run first
                start = max(free[s], done.get(needs, Fraction(0)))
                free[s] = done[(kind, s, mb)] = start + slots[kind]
                position[s] += 1
                progressed = True
        if not progressed:
            raise ValueError(
                f"these orders can never finish (each stage waits for another): {orders}"
            )
    busy = sum(slots[kind] for order in orders for kind, _ in order)
    return 1 - busy / (stages * max(free))


def label(order: list[tuple[str, int]]) -> str:
    return " ".join(f"{kind}{mb}" for kind, mb in order)


def measure(schedule: str, micro_batches: int, steps: int = 2) -> tuple[float, list[str]]:
    """Measured bubble of one schedule on this launch's ranks, and the order each rank ran its
    last step's work in (a collective: every rank calls it)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    stage = PipelineStage(SleepingStage(), rank, world, torch.device("cpu"))
    pipe = SCHEDULES[schedule](stage, n_microbatches=micro_batches, loss_fn=F.mse_loss)
    x, target = torch.ones(BATCH, WIDTH), torch.zeros(BATCH, WIDTH)
    bubbles = []
    for _ in range(steps + 1):  # the first step also infers shapes: not timed
        dist.barrier()
        busy_seconds[0] = 0.0
        ran.clear()
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
    orders: list[str] = [""] * world
    dist.all_gather_object(orders, label(ran))
    return mean.item() / world, orders


def parse(order: str) -> list[tuple[str, int]]:
    return [(op[0], int(op[1:])) for op in order.split()]


def bubble_table(micro_batches: tuple[int, ...] = (1, 2, 4, 8)) -> list[dict[str, float | str]]:
    """GPipe for every m, 1F1B where it is defined (m >= stages); rows for summary.json."""
    world = dist.get_world_size()
    rows = []
    for schedule in SCHEDULES:
        for m in micro_batches:
            if schedule == "1f1b" and m < world:
                continue
            measured, orders = measure(schedule, m)
            counted = counted_bubble([parse(order) for order in orders])
            rows.append(
                {
                    "schedule": schedule,
                    "stages": world,
                    "micro_batches": m,
                    "order_per_stage": orders,
                    "counted": str(counted),
                    "measured": round(measured, 4),
                    "theory": round(theory(world, m), 4),
                }
            )
    return rows
