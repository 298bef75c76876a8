"""The public Python API; the CLI is a thin layer over these functions.

    result = dlbench.train("configs/mnist1d-cnn.yaml", overrides=["train.steps=500"], run_dir="runs/m1")
    dlbench.evaluate("runs/m1", split="test")
    dlbench.predict("runs/m1", "data.csv", output="preds.csv")
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dlbench.config import dump_config
from dlbench.schema import Config, load_config, parse_config
from dlbench.data.registry import build_data
from dlbench.errors import UserError
from dlbench.recipes.registry import RECIPES, get_recipe
from dlbench.run.load import load_run
from dlbench.run.rundir import RunDir, new_run_dir
from dlbench.training import supervised

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


def prepare(cfg: Config, device=None):
    """Data, model and task for a config (the same steps train, evaluate, profile and bench use)."""
    return supervised.prepare(get_recipe(cfg.model.name), cfg, device)


def train(config, overrides: list[str] | None = None, run_dir: str | Path | None = None, resume: bool = False,
          quiet: bool = True, observer=None, dist=None, evaluate_test: bool = True) -> RunResult:
    """Train a config (path, shipped name, dict or Config); validate during training; test once at the end.

    evaluate_test=False leaves the test split sealed (result["test"] is None): hyperparameter-search trials
    use it so that only the final selected model is ever evaluated on test.
    """
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
        get_recipe(cfg.model.name).check_config(cfg)
        if dist:  # before anything is written: every rank must train the same resolved config
            dist.check_same_config(dump_config(cfg))
        if is_main:
            run = RunDir(new_run_dir(run_dir, cfg.name or "run"))
        else:
            run = RunDir(run_dir)
    recipe = get_recipe(cfg.model.name)
    if is_main:
        run.write_config(dump_config(cfg))
    try:
        result = recipe.train(cfg, run, resume=resume, quiet=quiet, observer=observer, dist=dist,
                              evaluate_test=evaluate_test)
    except supervised.DoesNotFit as e:
        fit = [n for n, r in RECIPES.items() if r.fits(e.spec) is None]
        raise UserError(str(e), f"families that fit it: {', '.join(fit) or 'none'}") from None
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


def evaluate(run_dir: str | Path, split: str = "val", device: str | None = None) -> dict:
    """Metrics of a finished run's model on one split (train, val or test), rebuilt from its config."""
    if split not in ("train", "val", "test"):
        raise UserError(f"unknown split '{split}'", "use train, val or test")
    loaded = load_run(run_dir, device=device)
    return loaded.recipe.evaluate(loaded, build_data(loaded.config.data), split)
