"""The schema of a run's config: data kinds (data/registry.py) x families (recipes/registry.py) x the shared
optim and train sections, parsed with every problem reported at once, with key paths.

    cfg = load_config("mnist1d-cnn", ["optim.lr=3e-3"])     # a shipped name or a path, plus overrides
    cfg = parse_config({"data": {...}, "model": {...}})
"""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from dlbench.config.load import SHIPPED_DIR, apply_overrides, dump_config, read_yaml, resolve_config_path
from dlbench.config.sections import EarlyStopping, OptimConfig, TrainConfig
from dlbench.errors import UserError
from dlbench.schema.describe import describe
from dlbench.schema.run_config import MAX_NAME_LENGTH, Config

__all__ = ["Config", "EarlyStopping", "OptimConfig", "TrainConfig", "apply_overrides", "dump_config", "load_config",
           "parse_config"]


def parse_config(raw: dict, source: str = "config"):
    """Validate a plain dict; raise one UserError listing every problem."""
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        problems = [describe(err, Config) for err in e.errors()]
        problems = list(dict.fromkeys(problems))
        if len(problems) == 1:
            raise UserError(f"{source}: {problems[0]}") from None
        raise UserError(f"{source}: {len(problems)} problems in the config\n  " + "\n  ".join(problems)) from None


def load_config(path_or_name: str | Path, overrides: list[str] | None = None):
    path = resolve_config_path(path_or_name)
    raw = apply_overrides(read_yaml(path), overrides or [])
    if path.resolve().parent == SHIPPED_DIR.resolve():
        _locate_shipped_data(raw)
    cfg = parse_config(raw, source=str(path))
    if cfg.name is None:  # the file name may hold characters a run name may not: replace them
        cfg.name = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip(".")[:MAX_NAME_LENGTH] or "run"
    return cfg


def _locate_shipped_data(raw: dict) -> None:
    """A shipped config's example file (`path: configs/data/diabetes.csv`) is found from any directory.

    The path reads as the checkout's `configs/` link; run by name elsewhere (an installed package, another
    directory) and missing there, it is taken from the package's own copy. A path that exists where the user
    runs dlbench, or an `-o data.path=` override, wins.
    """
    data = raw.get("data") if isinstance(raw, dict) else None
    value = data.get("path") if isinstance(data, dict) else None
    if not isinstance(value, str) or Path(value).is_absolute() or Path(value).exists():
        return
    parts = Path(value).parts
    if parts and parts[0] == SHIPPED_DIR.name:
        candidate = SHIPPED_DIR.joinpath(*parts[1:])
        if candidate.exists():
            data["path"] = str(candidate)
