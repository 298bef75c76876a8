"""The workload's demands, measured on this machine from the config's own training step.

One untimed training step runs under torch's FLOP counter (torch.utils.flop_counter.FlopCounterMode),
an operator counter (every aten call: the floor of a small model's GPU step) and saved-tensor hooks
(the activation bytes autograd keeps for the backward pass). A forward pass without gradients gives
the evaluation FLOPs. Weights, gradients and the optimizer state are read off the tensors after the
step. Peak device memory is torch.cuda.max_memory_allocated where the step ran on a GPU; elsewhere it
is estimated from the model (weights + gradients + optimizer state + saved activations), and says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from dlbench.size.model import Q


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


@dataclass
class StepDemands:
    flops_per_sample: Q
    eval_flops_per_sample: Q
    params: Q
    weight_bytes: Q
    grad_bytes: Q
    optimizer_bytes: Q
    activation_bytes_per_sample: Q
    peak_memory_bytes: Q
    operators_per_step: Q
    storage_bytes_per_sample: Q
    dataset_bytes: Q
    batch: int
    train_samples: int
    val_samples: int


def _tensor_bytes(obj) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def _storage_per_sample(split) -> tuple[float, float, str]:
    """(bytes read from storage per sample, dataset bytes, how known)."""
    n = len(split)
    if split.in_memory:
        b = _tensor_bytes(split.x) + _tensor_bytes(split.y)
        return b / max(n, 1), float(b), ("derived: in-memory tensors (x + y) per sample; read once at start-up, "
                                         "this is the rate if streamed from storage")
    files = [p for p in (split.ids or [])[:2000] if isinstance(p, str) and os.path.isfile(p)]
    if files:
        sizes = [os.path.getsize(p) for p in files]
        mean = sum(sizes) / len(sizes)
        return mean, mean * n, f"measured: mean size of {len(files)} sample files"
    return 0.0, 0.0, "unknown: the dataset names no files (assumed 0)"


def prepare_step(cfg, steps: int):
    """(bundle, model, task, device, step) of a config: api.prepare and the recipe's training step."""
    from dlbench.api import prepare
    from dlbench.recipes.registry import get_recipe

    bundle, model, task, device = prepare(cfg)
    return bundle, model, task, device, get_recipe(cfg.model.name).train_step(cfg, model, task, device, steps)


def measure_step(cfg, prepared=None) -> StepDemands:
    """Measure one training step of a config; `prepared`: prepare_step's tuple, to reuse a built model."""
    from dlbench.data.loaders import TrainBatches
    from dlbench.training.device import synchronize

    bundle, model, task, device, step = prepared or prepare_step(cfg, 4)
    tc = cfg.train
    batches = TrainBatches(bundle.train, tc.batch_size, tc.seed, device, num_workers=0)
    batch = batches.global_batch
    model.train()
    step.run(iter([next(batches) for _ in range(step.batches_per_step)]))  # warm-up: optimizer state exists now
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    saved: dict[int, int] = {}

    def pack(t):
        try:
            key = t.untyped_storage().data_ptr()
            saved[key] = max(saved.get(key, 0), t.untyped_storage().nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (sparse, nested)
            pass
        return t

    fetched = [next(batches) for _ in range(step.batches_per_step)]
    counter, ops = FlopCounterMode(display=False), _OpCounter()
    with counter, ops, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step.run(iter(fetched))
    synchronize(device)
    samples = batch * step.batches_per_step
    train_flops = counter.get_total_flops()
    peak_cuda = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
    # forward FLOPs of an evaluation batch: the task's loss without gradients (the loss itself is negligible)
    xb, yb = fetched[0]
    model.eval()
    fwd = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), fwd:
            task.loss(model, xb, yb)
        eval_flops = Q(fwd.get_total_flops() / len(xb), "FLOP", "measured: flop counter, forward without gradients")
    except Exception:  # a family whose evaluation is not a forward pass of its task (a GAN samples and classifies)
        eval_flops = Q(train_flops / samples / 3, "FLOP", "assumed: a third of a training step (this family's "
                       "evaluation is not a plain forward pass)")
    model.train()
    params = [p for p in model.parameters()]
    n_params = sum(p.numel() for p in params)
    weight_b = sum(p.numel() * p.element_size() for p in params)
    grad_b = sum(p.numel() * p.element_size() for p in params if p.requires_grad)
    opt = step.optimizer
    opts = opt if isinstance(opt, (list, tuple)) else [opt]
    opt_b = sum(_tensor_bytes(dict(o.state)) if hasattr(o, "state") else 0 for o in opts if o is not None)
    act_per_sample = sum(saved.values()) / samples
    est = weight_b + grad_b + opt_b + sum(saved.values())
    if peak_cuda is not None:
        peak = Q(float(peak_cuda), "bytes", f"measured: torch.cuda.max_memory_allocated over one step of batch {batch}")
    else:
        peak = Q(float(est), "bytes", f"estimated from the model (no GPU here): weights + gradients + optimizer state "
                 f"+ activations saved for backward at batch {batch}")
    per_sample, dataset_b, how = _storage_per_sample(bundle.train)
    return StepDemands(
        flops_per_sample=Q(train_flops / samples, "FLOP", "measured: torch.utils.flop_counter over one training step "
                           f"of {samples} samples (forward + backward)"),
        eval_flops_per_sample=eval_flops,
        params=Q(float(n_params), "", "counted: model parameters"),
        weight_bytes=Q(float(weight_b), "bytes", "counted: parameter tensors"),
        grad_bytes=Q(float(grad_b), "bytes", "counted: one gradient per trainable parameter, in its dtype (what DDP "
                     "all-reduces each step)"),
        optimizer_bytes=Q(float(opt_b), "bytes", "measured: optimizer state tensors after a step"),
        activation_bytes_per_sample=Q(act_per_sample, "bytes", "measured: tensors autograd saved for backward, "
                                      "per sample"),
        peak_memory_bytes=peak,
        operators_per_step=Q(float(ops.ops), "", "counted: aten operators dispatched in one training step"),
        storage_bytes_per_sample=Q(per_sample, "bytes", how),
        dataset_bytes=Q(dataset_b, "bytes", how.split(";")[0]),
        batch=batch, train_samples=len(bundle.train), val_samples=len(bundle.val))
