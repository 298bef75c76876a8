"""Run directories as server predictors (`dlbench.serve.predictor.Predictor`), through their recipes.

Requests carry raw inputs; the run's codec (`dlbench.codecs`) describes them and applies the
preprocessing stored in model.json exactly as in training (array runs: `input` FP32; tabular runs: one
input per column; image runs: `image` UINT8; text runs: `text` BYTES). What a family answers is its
recipe's predictor (`Recipe.predictor`: recipes/predictor.py for the supervised families, the GAN's own).
"""
from __future__ import annotations

from pathlib import Path

from dlbench.run.load import load_run


def load_predictor(run_dir: str | Path, name: str | None = None, version: str = "1", device: str | None = None):
    """A verified, loaded run directory ready to serve, through its family's recipe."""
    run = load_run(run_dir, device=device)
    return run.recipe.predictor(run, name or Path(run_dir).resolve().name, version)
