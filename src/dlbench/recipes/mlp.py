"""MLP: flat features (tables, flattened images or signals) -> classes or values."""
from __future__ import annotations

import math

from dlbench.models.layers import output_dim
from dlbench.models.mlp import MLP, MLPConfig
from dlbench.recipes.base import Recipe


class MLPRecipe(Recipe):
    name = "mlp"
    config = MLPConfig
    description = "multi-layer perceptron for tables and flat features (classification, regression)"

    def fits(self, spec):
        if "vocab_size" in spec.extras:
            return "it takes numeric features, not token ids"
        return super().fits(spec)

    def build(self, mc, spec):
        return MLP(math.prod(spec.input_shape), output_dim(spec), mc)
