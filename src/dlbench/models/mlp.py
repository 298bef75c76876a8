"""Multi-layer perceptron for tabular data and flat features."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from dlbench.config.base import Section
from dlbench.models.layers import Activation, activation


class MLPNetConfig(Section):
    """The network's shape (the `mlp` recipe's config section adds its name)."""
    hidden: list[int] = Field(default_factory=lambda: [128, 128], min_length=1)
    """Width of each hidden layer; its length is the depth."""
    activation: Activation = "relu"
    """Nonlinearity after each hidden layer."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout after each hidden layer; raise it (0.1-0.3) when validation loss rises while training loss falls."""
    norm: Literal["none", "batch", "layer"] = "none"
    """Normalization after each hidden linear layer: none, batch (BatchNorm1d) or layer (LayerNorm)."""
    residual: bool = False
    """Skip connection x + f(x) around every hidden layer whose input and output widths match."""


class Block(nn.Module):
    def __init__(self, d_in: int, d_out: int, cfg: MLPNetConfig):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.norm = {"none": nn.Identity, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}[cfg.norm](d_out) \
            if cfg.norm != "none" else nn.Identity()
        self.act = activation(cfg.activation)
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout else nn.Identity()
        self.residual = cfg.residual and d_in == d_out

    def forward(self, x):
        h = self.drop(self.act(self.norm(self.linear(x))))
        return x + h if self.residual else h


class MLP(nn.Module):
    def __init__(self, d_in: int, d_out: int, cfg: MLPNetConfig):
        super().__init__()
        widths = [d_in, *cfg.hidden]
        self.blocks = nn.Sequential(*[Block(a, b, cfg) for a, b in zip(widths[:-1], widths[1:])])
        self.head = nn.Linear(widths[-1], d_out)

    def forward(self, x):  # x: [N, *input_shape] -> [N, d_out]
        return self.head(self.blocks(x.flatten(1)))
