"""The supervised regime end to end: data, model, the loop, the final validation and the one test.

Recipes of supervised families call `train_supervised` (recipes/base.py); the GAN recipe has its own
(recipes/gan/loop.py) and shares `run_record` and keep-best (training/keep_best.py) with it.
"""
from __future__ import annotations

import time

import torch

from dlbench.data.registry import build_data
from dlbench.errors import UserError
from dlbench.monitor.profile import save_profile
from dlbench.monitor.reference import reference_profile
from dlbench.progress import TrainProgress
from dlbench.training import init_from
from dlbench.training.device import pick_device, versions
from dlbench.training.diagnose import diagnose
from dlbench.training.distributed import effective_lr
from dlbench.training.loop import fit, total_steps
from dlbench.training.seeding import seed_everything


class DoesNotFit(UserError):
    """The family cannot take this data; `api` adds the families that can (it sees the registry)."""

    def __init__(self, family: str, spec, why: str):
        super().__init__(f"model {family} does not fit this {spec.task} data: {why}")
        self.family, self.spec, self.why = family, spec, why


def check_fits(recipe, spec) -> None:
    why = recipe.fits(spec)
    if why is not None:
        raise DoesNotFit(recipe.name, spec, why)


def prepare(recipe, cfg, device=None):
    """Data, model and task for a config: the same steps train, evaluate, profile and bench use."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = device or pick_device(cfg.train.device)
    bundle = build_data(cfg.data)
    check_fits(recipe, bundle.spec)
    seed_everything(cfg.train.seed)
    model = recipe.build(cfg.model, bundle.spec).to(device)
    task = recipe.build_task(cfg, bundle.spec)
    return bundle, model, task, device


def run_record(cfg, bundle, device, t0: float, init_seconds: float, train_seconds: float, eval_seconds: float) -> dict:
    """The parts of result.json every regime writes the same way."""
    return {"name": cfg.name,
            "timing": {"init_seconds": init_seconds, "train_seconds": train_seconds, "eval_seconds": eval_seconds,
                       "total_seconds": time.perf_counter() - t0},
            "data": {"train": len(bundle.train), "val": len(bundle.val), "test": len(bundle.test),
                     "test_opened": bundle.test_opened},
            "device": str(device), "versions": versions()}


def selection(recipe, cfg, task_name: str) -> tuple[str, str]:
    """(metric, "min" | "max") that picks the best weights: early stopping's metric, or the task's."""
    es = cfg.train.early_stopping
    metric = es.metric if es and es.metric else recipe.selection_metric(task_name)
    mode = es.mode if es and es.mode != "auto" else recipe.direction(metric, task_name)
    return metric, mode


def train_supervised(recipe, cfg, run, *, resume: bool = False, quiet: bool = True, observer=None, dist=None,
                     evaluate_test: bool = True) -> dict:
    """Fit, restore the best weights, evaluate on validation and (once, unless evaluate_test is False) on
    test; write model.safetensors, model.json and result.json (rank 0). Returns the result."""
    t0 = time.perf_counter()
    is_main = dist.is_main if dist else True
    with init_from.data_context(cfg.data.kind):  # fine-tuning: the data is built for the old model (training/init_from.py)
        bundle, model, task, device = prepare(recipe, cfg, device=dist.device if dist else None)
    init_from.load_weights(model, bundle.spec)
    if is_main:  # only now: a run whose data or model cannot be built leaves no directory to block its retry
        run.create()
    if dist:
        model = dist.wrap(model)
    init_seconds = time.perf_counter() - t0
    steps = total_steps(cfg.train, len(bundle.train), cfg.train.batch_size)
    step_fn = recipe.train_step(cfg, model, task, device, steps)
    progress = None if quiet or not is_main else TrainProgress(cfg.name or "train")
    fitted = fit(cfg, model, task, bundle, run, device, step_fn, selection=selection(recipe, cfg, bundle.spec.task),
                 resume=resume, progress=progress, observer=observer, dist=dist)
    raw = model.module if hasattr(model, "module") else model
    bs = max(cfg.train.batch_size, 256)
    val = task.evaluate(raw, bundle.val, bs, device, detailed=True)
    test = task.evaluate(raw, bundle.open_test("final test after training"), bs, device, detailed=True) \
        if evaluate_test else None
    record = run_record(cfg, bundle, device, t0, init_seconds, fitted.train_seconds, fitted.eval_seconds)
    result = {
        "name": cfg.name, "task": recipe.run_task(bundle.spec), "model": recipe.name,
        "val": val, "test": test,
        "best": fitted.best,
        "diagnosis": diagnose(fitted.evals, bundle.spec.task,
                              kept_step=fitted.best["step"] if cfg.train.keep_best else None, final=val),
        "training": {"steps": fitted.steps, "epochs": fitted.epochs, "stopped_early": fitted.stopped_early,
                     "global_batch_size": cfg.train.batch_size,
                     "per_device_batch_size": cfg.train.batch_size / (dist.world if dist else 1),
                     "lr": effective_lr(cfg.train, cfg.optim.lr), "base_lr": cfg.optim.lr,
                     "lr_scaling": cfg.train.lr_scaling,
                     "samples_per_second": fitted.samples_per_second,
                     "world_size": dist.world if dist else 1},
        **{k: record[k] for k in ("timing", "data", "device", "versions")},
    }
    if hasattr(task, "judge"):  # tasks with baselines (forecasting) say how the model compares with them
        result["diagnosis"] = task.judge(result["diagnosis"], val)
    if is_main:
        info = recipe.model_info(cfg, bundle, raw)
        profile = reference_profile(recipe, cfg, bundle, raw, task, info, device)  # drift monitoring's reference
        if profile is not None:  # its sha256 in model.json: covered by the description hash
            info["reference_profile"] = save_profile(run.path, profile)
        run.save_model(raw.state_dict(), info)
        run.write_result(result)
    return result
