"""CNN: [C, T] signals (Conv1d) and [C, H, W] images (Conv2d) -> classes or values."""
from __future__ import annotations

from dlbench.errors import UserError
from dlbench.models.cnn import CNN, CNNConfig
from dlbench.models.layers import output_dim
from dlbench.recipes.base import Recipe


class CNNRecipe(Recipe):
    name = "cnn"
    config = CNNConfig
    description = "convolutional network for images and 1-D signals (classification, regression)"

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
