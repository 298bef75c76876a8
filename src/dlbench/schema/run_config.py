"""The config schema: data / model / optim / train, with typed defaults.

YAML files hold only the differences from these defaults. `data` and `model` are tagged unions:
`data.kind` picks a dataset config (see `dlbench.data.registry`) and `model.name` picks a family's
config section (see `dlbench.recipes.registry`), so each family's options live in its recipe.
"""
from __future__ import annotations

import re
from typing import Annotated, Union

from pydantic import AfterValidator, Field, model_validator

from dlbench.config.base import Section
from dlbench.config.sections import EarlyStopping, OptimConfig, TrackingConfig, TrainConfig
from dlbench.data.registry import DATASETS
from dlbench.recipes.registry import ALIASES, RECIPES

DataConfig = Annotated[Union[tuple(c for c, _ in DATASETS.values())], Field(discriminator="kind")]
ModelConfig = Annotated[Union[tuple(r.config for r in RECIPES.values())], Field(discriminator="name")]

__all__ = ["Config", "EarlyStopping", "OptimConfig", "TrainConfig"]


# The name becomes a directory under runs/: a separator or a leading dot would let it point elsewhere
# (`../../tmp/x`) or hide it, and the file system bounds a path component at 255 bytes.
MAX_NAME_LENGTH = 100


def _check_run_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a run name has at most {MAX_NAME_LENGTH} characters, this one has {len(name)}")
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name):
        raise ValueError("a run name uses only letters, digits, '.', '_' and '-', and does not start with '.' "
                         "(--run-dir takes any directory)")
    return name


RunName = Annotated[str, AfterValidator(_check_run_name)]


class Config(Section):
    data: DataConfig
    model: ModelConfig
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    tracking: TrackingConfig = TrackingConfig()
    name: RunName | None = None
    """Run name; the default run directory is runs/<name>-<timestamp>."""

    @model_validator(mode="before")
    @classmethod
    def _family_aliases(cls, raw):
        """dlbench 0.1 named the head in the family (`transformer-seq2seq`); the data now picks the head."""
        model = raw.get("model") if isinstance(raw, dict) else None
        if isinstance(model, dict) and model.get("name") in ALIASES:
            raw = {**raw, "model": {**model, "name": ALIASES[model["name"]]}}
        return raw
