"""Convolutional networks over 1-D signals ([N, C, T]) and 2-D images ([N, C, H, W])."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from dlbench.config.base import Section
from dlbench.errors import UserError
from dlbench.models.layers import Activation, activation


class ConvStage(Section):
    channels: int = Field(gt=0)
    """Output channels of the stage (its width)."""
    kernel: int = Field(3, gt=0)
    """Kernel size: a length for 1-D signals, a side for images."""
    stride: int = Field(1, gt=0)
    """Stride of the stage's (first) convolution; 2 halves the resolution."""
    padding: int | Literal["same"] = "same"
    """An int, or 'same' (kernel // 2: keeps the size at stride 1)."""
    pool: Literal["none", "max", "avg"] = "none"
    """2x pooling after the stage."""
    residual: bool = False
    """A ResNet basic block (two convs + shortcut) instead of a single conv."""


class CNNNetConfig(Section):
    """The network's shape (the `cnn` recipe's config section adds its name)."""
    stages: list[ConvStage] = Field(default_factory=lambda: [ConvStage(channels=32), ConvStage(channels=64, pool="max")],
                                    min_length=1)
    """The convolution stages in order, each a mapping (channels, kernel, stride, padding, pool, residual); more or
    wider stages give more capacity."""
    activation: Activation = "relu"
    """Nonlinearity after each convolution."""
    batch_norm: bool = True
    """Batch normalization after each convolution (usually faster, steadier training)."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout before the head."""
    head: Literal["flatten", "avg", "max"] = "avg"
    """flatten: linear over all features (MNIST-1D's ConvBase); avg/max: global pooling then linear."""
    head_hidden: list[int] = Field(default_factory=list)
    """Widths of hidden layers between the pooled features and the output; empty: a linear head."""


def _conv(dims: int):
    return nn.Conv1d if dims == 1 else nn.Conv2d


def _norm(dims: int, c: int, on: bool) -> nn.Module:
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(c) if on else nn.Identity()


class ConvBlock(nn.Module):
    """conv -> norm -> act; or, residual, the ResNet basic block: act(norm(conv(act(norm(conv x)))) + shortcut x)."""

    def __init__(self, dims: int, c_in: int, st: ConvStage, cfg: CNNNetConfig):
        super().__init__()
        pad = st.kernel // 2 if st.padding == "same" else st.padding
        Conv = _conv(dims)
        self.residual = st.residual
        self.conv1 = Conv(c_in, st.channels, st.kernel, st.stride, pad, bias=not cfg.batch_norm)
        self.norm1 = _norm(dims, st.channels, cfg.batch_norm)
        self.act = activation(cfg.activation)
        if st.residual:
            self.conv2 = Conv(st.channels, st.channels, st.kernel, 1, st.kernel // 2, bias=not cfg.batch_norm)
            self.norm2 = _norm(dims, st.channels, cfg.batch_norm)
            self.shortcut = nn.Identity() if c_in == st.channels and st.stride == 1 else nn.Sequential(
                Conv(c_in, st.channels, 1, st.stride, bias=not cfg.batch_norm), _norm(dims, st.channels, cfg.batch_norm))
        pool = {"max": nn.MaxPool1d if dims == 1 else nn.MaxPool2d,
                "avg": nn.AvgPool1d if dims == 1 else nn.AvgPool2d}.get(st.pool)
        self.pool = pool(2) if pool else nn.Identity()

    def forward(self, x):
        h = self.act(self.norm1(self.conv1(x)))
        if self.residual:
            h = self.act(self.norm2(self.conv2(h)) + self.shortcut(x))
        return self.pool(h)


class CNN(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], d_out: int, cfg: CNNNetConfig):
        super().__init__()
        dims = len(input_shape) - 1
        blocks, c = [], input_shape[0]
        for st in cfg.stages:
            blocks.append(ConvBlock(dims, c, st, cfg))
            c = st.channels
        self.features = nn.Sequential(*blocks)
        self.head_kind = cfg.head
        with torch.no_grad():  # the flattened size depends on strides and padding: measure it once
            try:
                n_feat = self._pool(self.features.eval()(torch.zeros(1, *input_shape))).shape[1]
                self.features.train()
            except (RuntimeError, ValueError) as e:
                raise UserError(f"model.stages shrink the input {list(input_shape)} to nothing ({str(e).splitlines()[0]})",
                                "use fewer stages, smaller strides or more padding") from None
        layers: list[nn.Module] = [nn.Dropout(cfg.dropout)] if cfg.dropout else []
        for w in cfg.head_hidden:
            layers += [nn.Linear(n_feat, w), activation(cfg.activation)]
            n_feat = w
        self.head = nn.Sequential(*layers, nn.Linear(n_feat, d_out))

    def _pool(self, h):  # [N, C, *spatial] -> [N, F]
        if self.head_kind == "flatten":
            return h.flatten(1)
        return h.flatten(2).mean(-1) if self.head_kind == "avg" else h.flatten(2).amax(-1)

    def forward(self, x):
        return self.head(self._pool(self.features(x)))
