"""MLP: flat features (tables, flattened images or signals) -> classes or values."""
from __future__ import annotations

import math
from typing import Literal

from dlbench.models.layers import output_dim
from dlbench.models.mlp import MLP, MLPNetConfig
from dlbench.recipes.base import Recipe, Suggestion


class MLPConfig(MLPNetConfig):
    """Multi-layer perceptron over flat features."""
    name: Literal["mlp"] = "mlp"
    """The family: a multi-layer perceptron over flat features (tables, flattened images or signals)."""


class MLPRecipe(Recipe):
    name = "mlp"
    config = MLPConfig
    description = "multi-layer perceptron for tables and flat features (classification, regression)"
    title = "MLP"
    tasks = ("classification", "regression", "forecasting")

    def suggest(self, profile, goal):
        if profile.kind in ("text", "translation") or profile.task not in ("classification", "regression"):
            return None
        if profile.kind == "tabular":
            return Suggestion(self.name, 0, self.title, [
                "tabular features (no spatial or temporal order between columns): an MLP on standardized "
                "numbers and one-hot categories is the strong, simple baseline"])
        return Suggestion(self.name, 5, self.title)  # images, signals: a fallback that ignores their order

    def starter(self, profile, suggestion, sizes, steps):
        depth = 3 if sizes["n_train"] >= 100_000 else 2
        return {"name": self.name, "hidden": [sizes["width"]] * depth, "dropout": sizes["dropout"]}, {}, {}

    def fits(self, spec):
        if "vocab_size" in spec.extras:
            return "it takes numeric features, not token ids"
        return super().fits(spec)

    def build(self, mc, spec):
        return MLP(math.prod(spec.input_shape), output_dim(spec), mc)
