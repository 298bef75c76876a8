"""Small pieces the families share."""
from __future__ import annotations

from typing import Literal

from torch import nn

Activation = Literal["relu", "gelu", "silu", "tanh", "leaky_relu"]


def activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
            "leaky_relu": lambda: nn.LeakyReLU(0.01)}[name]()


def output_dim(spec) -> int:
    return spec.num_classes if spec.task == "classification" else spec.target_dim
