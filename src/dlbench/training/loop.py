"""The supervised training loop: one readable function, nanoGPT-style.

Host syncs happen only at `log_every` / `eval_every` boundaries: the per-step loss stays on the
device and is summed there. Ctrl-C / SIGTERM finish the current step, write a checkpoint and raise
`Interrupted`. A run resumed from any checkpoint continues bit-identically on CPU, because batch
order is a function of (seed, epoch) and every RNG state is in the checkpoint.
"""
from __future__ import annotations

import contextlib
import logging
import math
import signal
import time
from dataclasses import dataclass, field

import torch

from dlbench.data.loaders import TrainBatches
from dlbench.errors import UserError
from dlbench.training import checkpoint as ckpt
from dlbench.training.device import autocast_for, synchronize
from dlbench.training.keep_best import KeepBest

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """Training stopped by SIGINT/SIGTERM after writing a checkpoint."""


class Diverged(Exception):
    """The training loss became NaN or infinite."""


@dataclass
class FitResult:
    steps: int
    epochs: float
    best: dict | None
    """{"step", "metric", "value"} of the best validation evaluation."""
    stopped_early: bool
    train_seconds: float
    eval_seconds: float
    samples_per_second: float
    evals: list[dict] = field(default_factory=list)


def default_epochs(n_train: int) -> int:
    """Epochs when the config gives neither train.steps nor train.epochs: small data needs many passes to
    converge and large data few (early stopping ends a run that has converged sooner)."""
    if n_train < 1000:
        return 60
    if n_train < 10_000:
        return 30
    if n_train < 100_000:
        return 10
    return 3


def eval_cadence(train_cfg, steps: int) -> int:
    """Steps between validation evaluations: train.eval_every, or about 20 evaluations per run."""
    return train_cfg.eval_every or max(1, min(500, -(-steps // 20)))


def total_steps(train_cfg, n_train: int, global_batch: int) -> int:
    """Optimizer steps of a run: train.steps, or train.epochs (default: `default_epochs`) over the data."""
    if train_cfg.steps is not None:
        return train_cfg.steps
    epochs = train_cfg.epochs if train_cfg.epochs is not None else default_epochs(n_train)
    per_epoch = max(1, n_train // min(global_batch, n_train))
    return max(1, math.ceil(epochs * per_epoch))


@contextlib.contextmanager
def stop_signals():
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps."""
    flag = {"sig": None}

    def handler(signum, _frame):
        flag["sig"] = signum

    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            old[s] = signal.signal(s, handler)
        except ValueError:  # not the main thread (e.g. a tuning worker): no handlers
            pass
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def fit(cfg, model, task, bundle, run, device, step_fn, *, selection: tuple[str, str], resume: bool = False,
        progress=None, observer=None, dist=None) -> FitResult:
    """Train `model` on bundle.train, evaluating on bundle.val; write metrics and checkpoints to `run`.

    step_fn: the recipe's `TrainStep` (the same step profile and the benchmark warm-up run).
    selection: (validation metric, "min" | "max") that picks the best weights and drives early stopping.
    progress: an object with start(total, done) / update(step, fields) / stop(), or None.
    observer: optional benchmark hooks: run_start(), eval_start(step), eval_stop(step, metrics) -> bool (stop).
    dist: optional distributed context (rank, world, is_main, all_reduce_mean(tensor)).
    """
    tc = cfg.train
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    is_main = dist.is_main if dist else True
    global_batch = tc.batch_size
    steps = total_steps(tc, len(bundle.train), global_batch)
    eval_every = eval_cadence(tc, steps)
    es = tc.early_stopping
    sel_metric, sel_mode = selection
    raw_model = model.module if hasattr(model, "module") else model
    optimizer, scheduler = step_fn.optimizer, step_fn.scheduler
    autocast = autocast_for(device, tc.precision)
    state = {"step": 0, "position": None, "best": None, "best_step": None, "bad_evals": 0,
             "samples": 0, "train_seconds": 0.0, "eval_seconds": 0.0}
    keeper = KeepBest(run, sel_metric, sel_mode, es.min_delta if es else 0.0, keep=tc.keep_best, write=is_main,
                      tie_metric="val.loss" if sel_metric != "val.loss" else None)
    if resume:
        found = ckpt.load_latest_checkpoint(run.checkpoints)
        if found is not None:
            tensors, meta = found
            state = ckpt.restore_checkpoint(tensors, meta, raw_model, optimizer, scheduler)
            keeper.restore(state)
            log.info("resumed from step %d", state["step"])
        if is_main:
            run.truncate_metrics(state["step"])
    if observer:  # the benchmark clock starts before the training data is touched (MLPerf run_start)
        observer.run_start()
    batches = TrainBatches(bundle.train, global_batch, tc.seed, device, rank, world, tc.num_workers,
                           position=state["position"])
    train_eval = bundle.train.subset(tc.eval_train_samples) if tc.eval_train_samples else None
    evals = [r for r in run.read_metrics() if r.get("kind") == "eval"] if resume and is_main else []

    def evaluate(step: int) -> dict:
        t0 = time.perf_counter()
        if observer:
            observer.eval_start(step)
        metrics = {f"val.{k}": v for k, v in task.evaluate(raw_model, bundle.val, max(tc.batch_size, 256), device,
                                                            autocast=autocast).items()}
        if train_eval is not None:
            metrics.update({f"train.{k}": v for k, v in task.evaluate(raw_model, train_eval, max(tc.batch_size, 256),
                                                                        device, autocast=autocast).items()})
        state["eval_seconds"] += time.perf_counter() - t0
        return metrics

    model.train()
    if progress and is_main:
        progress.start(steps, state["step"])
    loss_sum = torch.zeros((), device=device)
    loss_count, stop_reason = 0, None
    t_window, samples_window = time.perf_counter(), 0
    with stop_signals() as flag:
        t_start = time.perf_counter() - state["train_seconds"]
        while state["step"] < steps:
            loss = step_fn.run(batches, batches.loss_weight)
            loss_sum += loss
            loss_count += 1
            state["step"] += 1
            step = state["step"]
            samples_window += global_batch
            state["samples"] += global_batch

            if step % tc.log_every == 0 or step == steps:
                mean_loss = (dist.all_reduce_mean(loss_sum) if dist else loss_sum).item() / loss_count
                if not math.isfinite(mean_loss):
                    raise Diverged(f"training loss became {mean_loss} at step {step}; lower optim.lr or set optim.grad_clip")
                synchronize(device)
                now = time.perf_counter()
                rate = samples_window / max(now - t_window, 1e-9)
                t_window, samples_window = now, 0
                rec = {"step": step, "kind": "train", "epoch": batches.epoch + batches.index / max(1, batches.batches_per_epoch),
                       "train.loss": mean_loss, "lr": scheduler.get_last_lr()[0], "samples_per_s": rate}
                if is_main:
                    run.log(rec)
                    if progress:
                        progress.update(step, {"loss": mean_loss, "samples/s": rate})
                loss_sum.zero_()
                loss_count = 0

            if step % eval_every == 0 or step == steps:
                metrics = evaluate(step)
                rec = {"step": step, "kind": "eval", **{k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}}
                evals.append(rec)
                if is_main:
                    run.log(rec)
                    if progress:
                        progress.update(step, {sel_metric: metrics.get(sel_metric)})
                value = metrics.get(sel_metric)
                if value is None:
                    raise UserError(f"train.early_stopping.metric '{sel_metric}' is not a metric of this task",
                                    f"choose one of {', '.join(k for k in metrics if k.startswith('val.'))}")
                if keeper.offer(state, step, metrics, raw_model):
                    state["bad_evals"] = 0
                else:
                    state["bad_evals"] += 1
                if observer and observer.eval_stop(step, metrics):
                    stop_reason = "target"
                if es and state["bad_evals"] >= es.patience:
                    stop_reason = "early_stopping"
                if dist:  # every rank leaves the loop at the same step, as rank 0 decides
                    stop_reason = dist.from_main(stop_reason, (None, "target", "early_stopping"))

            final = step == steps or stop_reason is not None
            sig = flag["sig"] is not None
            if dist:  # ranks see a signal at different steps: agree at log boundaries, then stop together
                sig = (step % tc.log_every == 0 or final) and dist.any_true(sig)
            if step % tc.checkpoint_every == 0 or final or sig:
                state["position"] = batches.position
                state["train_seconds"] = time.perf_counter() - t_start
                if is_main:
                    ckpt.save_checkpoint(run.checkpoints, step, raw_model, optimizer, scheduler, state,
                                         tc.keep_checkpoints)
                if dist:
                    dist.barrier()
            if sig:
                if progress and is_main:
                    progress.stop()
                raise Interrupted(f"interrupted at step {step}; checkpoint saved")
            if stop_reason:
                break
            if step % eval_every == 0 or step % tc.checkpoint_every == 0:
                t_window = time.perf_counter()  # samples/s measures training steps, not evals or checkpoints
    if progress and is_main:
        progress.stop()
    synchronize(device)
    train_seconds = time.perf_counter() - t_start
    keeper.apply(raw_model)
    best = {"step": state["best_step"], "metric": sel_metric, "value": state["best"]}
    return FitResult(steps=state["step"], epochs=state["samples"] / len(bundle.train), best=best,
                     stopped_early=stop_reason == "early_stopping", train_seconds=train_seconds,
                     eval_seconds=state["eval_seconds"],
                     samples_per_second=state["samples"] / max(train_seconds - state["eval_seconds"], 1e-9),
                     evals=evals)
