"""CNN: [C, T] signals (Conv1d) and [C, H, W] images (Conv2d) -> classes or values."""
from __future__ import annotations

import math
from typing import Literal

from dlbench.errors import UserError
from dlbench.models.cnn import CNN, CNNNetConfig
from dlbench.models.layers import output_dim
from dlbench.recipes.base import Recipe, Suggestion


class CNNConfig(CNNNetConfig):
    """Convolutional network over [C, T] signals or [C, H, W] images."""
    name: Literal["cnn"] = "cnn"
    """The family: a convolutional network over [C, T] signals (Conv1d) or [C, H, W] images (Conv2d)."""


class CNNRecipe(Recipe):
    name = "cnn"
    config = CNNConfig
    description = "convolutional network for images and 1-D signals (classification, regression)"
    title = "CNN"

    def suggest(self, profile, goal):
        if profile.task not in ("classification", "regression"):
            return None
        if profile.kind == "image":
            return Suggestion(self.name, 0, self.title, [
                "images: convolutions share weights across positions and pool over them, so a CNN needs far "
                "fewer parameters than an MLP and is robust to small shifts"])
        if profile.kind == "signal" and len(profile.shape) == 2:
            return Suggestion(self.name, 0, "1-D CNN", [
                "ordered sequence: local patterns (peaks, edges) matter wherever they occur; a 1-D CNN finds them "
                "with few parameters and is fast on long sequences"], variant="1d")
        return None

    def starter(self, profile, suggestion, sizes, steps):
        spatial = min(profile.shape[1:]) if len(profile.shape) > 1 else 8
        depth = int(min(4, max(2, math.log2(max(spatial, 4)) - 1)))
        base = 16 if sizes["n_train"] < 1000 else 32
        kernel = 5 if suggestion.variant == "1d" else 3
        stages = [{"channels": min(256, base * 2 ** i), "kernel": kernel, "pool": "max" if i < depth - 1 else "none"}
                  for i in range(depth)]
        return {"name": self.name, "stages": stages, "dropout": sizes["dropout"], "head": "avg"}, {}, {}

    def fits(self, spec):
        if "vocab_size" in spec.extras:
            return "it takes signals or images, not token ids"
        if len(spec.input_shape) not in (2, 3):
            return f"it needs [C, T] signals or [C, H, W] images, and the data gives {list(spec.input_shape)}"
        return super().fits(spec)

    def build(self, mc, spec):
        if len(spec.input_shape) not in (2, 3):
            raise UserError(f"model cnn needs [C, T] signals or [C, H, W] images, but the data gives "
                            f"{list(spec.input_shape)}", "use an MLP for flat features, or data.flatten: false")
        return CNN(tuple(spec.input_shape), output_dim(spec), mc)
