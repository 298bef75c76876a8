"""Optimizers (no weight decay on biases and norm weights) and learning-rate schedules."""
from __future__ import annotations

import math

import torch

from dlbench.config.sections import OptimConfig


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices and conv kernels only: biases and norm scales (1-D tensors) are not regularized."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(cfg: OptimConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.name == "adam":
        # torch's Adam adds weight decay to the gradient (L2); AdamW decouples it
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)


def lr_factor(cfg: OptimConfig, step: int, total: int) -> float:
    """Multiplier of cfg.lr at optimizer step `step` (0-based) of `total`: warmup, then the schedule."""
    w = cfg.warmup_steps
    if w and step < w:
        return (step + 1) / w
    t = min(1.0, (step - w) / max(1, total - w))   # progress after warmup, 0 -> 1
    lo = cfg.min_lr_ratio
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "step":
        return cfg.gamma ** ((step - w) // cfg.step_size)
    if cfg.schedule == "cosine":
        return lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t))
    if cfg.schedule == "linear":
        return 1 - (1 - lo) * t
    if cfg.schedule == "inverse_sqrt":
        return math.sqrt(max(w, 1) / max(step + 1, w, 1))
    # onecycle (Smith & Topin): from lr/25 up to lr over pct_start, then cosine down to lr * min_lr_ratio
    up = cfg.onecycle_pct_start
    s = step / max(1, total)
    if s < up:
        return 1 / 25 + (1 - 1 / 25) * 0.5 * (1 - math.cos(math.pi * s / up))
    return lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * (s - up) / (1 - up)))


def build_scheduler(cfg: OptimConfig, optimizer: torch.optim.Optimizer, total_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(cfg, step, total_steps))
