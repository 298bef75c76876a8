"""Load any finished run through its family's recipe: the one `load_run` of evaluate, predict, serve,
export, report and `bench infer`."""
from __future__ import annotations

from pathlib import Path

import torch

from dlbench.schema import parse_config
from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import get_recipe
from dlbench.run.loaded import LoadedRun
from dlbench.run.rundir import load_model
from dlbench.training.device import pick_device


def load_run(run_dir: str | Path, device: str | None = None) -> LoadedRun:
    """A finished run's model with verified description and weights, its task, codec and recipe, on `device`
    (default: the run's train.device, or the CPU when that was auto and there is no GPU)."""
    info, weights = load_model(run_dir)
    try:
        cfg = parse_config(info["config"], source=f"{run_dir}/model.json")
        spec = DataSpec.from_json(info["spec"])
        info["preprocessing"]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{run_dir}/model.json is incomplete or malformed ({type(e).__name__}: {str(e)[:200]})",
                        "the run directory is damaged") from None
    recipe = get_recipe(cfg.model.name)
    auto_cpu = cfg.train.device == "auto" and not torch.cuda.is_available()
    dev = pick_device(device or ("cpu" if auto_cpu else cfg.train.device))
    return recipe.load(Path(run_dir), cfg, info, spec, weights, dev)
