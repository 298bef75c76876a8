"""The training step: the one the loop runs, `dlbench profile` times and the benchmark warms up.

One function builds it, so the three cannot drift apart: autocast (bf16), the loss weight of uneven
shards, gradient clipping, the optimizer and the scheduler are all inside.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import torch

from dlbench.training.device import autocast_for
from dlbench.training.distributed import effective_lr
from dlbench.training.optim import build_optimizer, build_scheduler


@dataclass
class TrainStep:
    """One optimizer step. `run(batches, loss_weight=1.0)` pulls `batches_per_step` (x, y) batches from
    the iterator and returns the loss, still on the device (no host sync)."""
    run: Callable[..., torch.Tensor]
    optimizer: Any
    scheduler: Any = None
    batches_per_step: int = 1


def supervised_step(cfg, model, task, device, steps: int) -> TrainStep:
    """`task.loss` -> backward -> clip -> optimizer -> scheduler, for `model` (DDP-wrapped or not)."""
    tc, oc = cfg.train, cfg.optim
    oc = oc.model_copy(update={"lr": effective_lr(tc, oc.lr)})  # train.lr_scaling, relative to the global batch
    raw = model.module if hasattr(model, "module") else model
    optimizer = build_optimizer(oc, raw)
    scheduler = build_scheduler(oc, optimizer, steps)
    autocast = autocast_for(device, tc.precision)

    def run(batches, loss_weight: float = 1.0) -> torch.Tensor:
        xb, yb = next(batches)
        with autocast() if autocast else contextlib.nullcontext():
            loss = task.loss(model, xb, yb)
            if loss_weight != 1.0:  # uneven shards: DDP's mean over ranks = mean over the global batch
                loss = loss * loss_weight
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if oc.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), oc.grad_clip)
        optimizer.step()
        scheduler.step()
        return loss.detach()

    return TrainStep(run, optimizer, scheduler)
