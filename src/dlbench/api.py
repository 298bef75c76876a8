"""The public Python API; the CLI is a thin layer over these functions.

    result = dlbench.train("configs/mnist1d-cnn.yaml", overrides=["train.steps=500"], run_dir="runs/m1")
    dlbench.evaluate("runs/m1", split="test")
    dlbench.predict("runs/m1", "data.csv", output="preds.csv")
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dlbench.config import Config, dump_config, load_config, parse_config
from dlbench.data import build_data
from dlbench.errors import UserError
from dlbench.models import build_model
from dlbench.run import RunDir, new_run_dir
from dlbench.tasks import build_task
from dlbench.training.device import pick_device, versions
from dlbench.training.diagnose import diagnose
from dlbench.training.distributed import effective_lr
from dlbench.training.loop import fit

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_dir: Path
    result: dict

    @property
    def val(self) -> dict:
        return self.result["val"]

    @property
    def test(self) -> dict:
        return self.result["test"]

    @property
    def diagnosis(self) -> dict:
        return self.result["diagnosis"]


def _as_config(config, overrides) -> Config:
    if isinstance(config, Config):
        config = config.model_dump(mode="json")
    if isinstance(config, dict):
        return load_config_from_dict(config, overrides)
    return load_config(config, overrides)


def load_config_from_dict(raw: dict, overrides) -> Config:
    from dlbench.config import apply_overrides

    return parse_config(apply_overrides(raw, list(overrides or [])))


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare(cfg: Config, device=None):
    """Data, model and task for a config (the same steps train, evaluate and bench use)."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = device or pick_device(cfg.train.device)
    bundle = build_data(cfg.data)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, bundle.spec).to(device)
    task = build_task(bundle.spec, cfg)
    return bundle, model, task, device


def model_info(cfg: Config, bundle, model) -> dict:
    return {"format": "dlbench-model/1", "family": cfg.model.name, "config": cfg.model_dump(mode="json"),
            "spec": bundle.spec.to_json(), "preprocessing": bundle.preprocessing,
            "parameters": sum(p.numel() for p in model.parameters())}


def train(config, overrides: list[str] | None = None, run_dir: str | Path | None = None, resume: bool = False,
          quiet: bool = True, observer=None, dist=None, evaluate_test: bool = True) -> RunResult:
    """Train a config (path, shipped name, dict or Config); validate during training; test once at the end.

    evaluate_test=False leaves the test split sealed (result["test"] is None): hyperparameter-search trials
    use it so that only the final selected model is ever evaluated on test.
    """
    from dlbench.progress import TrainProgress

    t0 = time.perf_counter()
    is_main = dist.is_main if dist else True
    if resume:
        if run_dir is None:
            raise UserError("--resume needs --run-dir naming the run to continue")
        run = RunDir(run_dir)
        if not run.config_path.is_file():
            raise UserError(f"{run_dir}: nothing to resume (no config.yaml)", "drop --resume to start a new run")
        saved = load_config(run.config_path)
        cfg = _as_config(config, overrides) if config is not None else saved
        _check_resume_compatible(saved, cfg, run.path)
        if dist:
            dist.check_same_config(dump_config(cfg))
    else:
        cfg = _as_config(config, overrides)
        if dist:  # before anything is written: every rank must train the same resolved config
            dist.check_same_config(dump_config(cfg))
        if is_main:
            run = RunDir(new_run_dir(run_dir, cfg.name or "run"))
        else:
            run = RunDir(run_dir)
    if is_main:
        run.write_config(dump_config(cfg))
    if cfg.model.name == "gan":  # adversarial training has its own loop and result
        from dlbench.training.gan_loop import train_gan

        return RunResult(run.path, train_gan(cfg, run, resume=resume, quiet=quiet, observer=observer, dist=dist))
    t_init = time.perf_counter()
    bundle, model, task, device = prepare(cfg, device=dist.device if dist else None)
    if dist:
        model = dist.wrap(model)
    init_seconds = time.perf_counter() - t_init
    progress = None if quiet or not is_main else TrainProgress(cfg.name or "train")
    fitted = fit(cfg, model, task, bundle, run, device, resume=resume, progress=progress, observer=observer,
                 dist=dist)
    raw = model.module if hasattr(model, "module") else model
    bs = max(cfg.train.batch_size, 256)
    val = task.evaluate(raw, bundle.val, bs, device, detailed=True)
    test = task.evaluate(raw, bundle.open_test("final test after training"), bs, device, detailed=True) \
        if evaluate_test else None
    result = {
        "name": cfg.name, "task": bundle.spec.task, "model": cfg.model.name,
        "val": val, "test": test,
        "best": fitted.best,
        "diagnosis": diagnose(fitted.evals, bundle.spec.task,
                              kept_step=fitted.best["step"] if cfg.train.keep_best else None),
        "training": {"steps": fitted.steps, "epochs": fitted.epochs, "stopped_early": fitted.stopped_early,
                     "global_batch_size": cfg.train.batch_size,
                     "per_device_batch_size": cfg.train.batch_size / (dist.world if dist else 1),
                     "lr": effective_lr(cfg.train, cfg.optim.lr), "base_lr": cfg.optim.lr,
                     "lr_scaling": cfg.train.lr_scaling,
                     "samples_per_second": fitted.samples_per_second,
                     "world_size": dist.world if dist else 1},
        "timing": {"init_seconds": init_seconds, "train_seconds": fitted.train_seconds,
                   "eval_seconds": fitted.eval_seconds, "total_seconds": time.perf_counter() - t0},
        "data": {"train": len(bundle.train), "val": len(bundle.val), "test": len(bundle.test),
                 "test_opened": bundle.test_opened},
        "device": str(device),
        "versions": versions(),
    }
    if is_main:
        run.save_model(raw.state_dict(), model_info(cfg, bundle, raw))
        run.write_result(result)
    return RunResult(run.path, result)


RESUME_MAY_CHANGE = {"train.steps", "train.epochs", "train.eval_every", "train.log_every", "train.checkpoint_every",
                     "train.keep_checkpoints", "train.device", "train.threads", "train.num_workers"}


def _check_resume_compatible(saved: Config, new: Config, path: Path) -> None:
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            key = f"{prefix}{k}"
            out.update(flat(v, key + ".") if isinstance(v, dict) else {key: v})
        return out

    a, b = flat(saved.model_dump(mode="json")), flat(new.model_dump(mode="json"))
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUME_MAY_CHANGE and k != "name")
    if diff:
        raise UserError(f"{path}: the config differs from the run's config.yaml in {', '.join(diff[:5])}",
                        "resume with the same config (only train.steps/epochs and cadences may change)")


def evaluate(run_dir: str | Path, split: str = "test", device: str | None = None) -> dict:
    """Metrics of a finished run's model on one split (train, val or test), rebuilt from its config."""
    from dlbench.inference import load_run

    if split not in ("train", "val", "test"):
        raise UserError(f"unknown split '{split}'", "use train, val or test")
    from dlbench.tasks.generation import evaluate_run, is_gan_run

    if is_gan_run(run_dir):
        return evaluate_run(run_dir, split, device)
    loaded = load_run(run_dir, device=device)
    bundle = build_data(loaded.config.data)
    data = {"train": bundle.train, "val": bundle.val}.get(split) or bundle.open_test("dlbench evaluate")
    return loaded.task.evaluate(loaded.model, data, 256, loaded.device, detailed=True)
