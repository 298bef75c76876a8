"""A finished run, loaded for inference: the one object evaluate, predict, serve, export, report and
`bench infer` use, whatever the family (built by `dlbench.run.load.load_run` through the run's recipe)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LoadedRun:
    path: Path
    config: Any
    """The run's validated config (`dlbench.config.Config`)."""
    info: dict
    """model.json."""
    spec: Any
    """The data's `DataSpec`."""
    model: Any
    """The torch module, on `device`, in eval mode."""
    task: Any
    """What turns model outputs into metrics and predictions (a `dlbench.tasks` task, or the recipe's own)."""
    codec: Any
    """The input codec of the stored preprocessing (`dlbench.codecs`)."""
    device: Any
    recipe: Any
    """The family's recipe: `loaded.recipe.evaluate / predict / predictor / export`."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def preprocessing(self) -> dict:
        return self.info["preprocessing"]
