"""Recurrent networks (LSTM / GRU) over sequences."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from dlbench.config.base import Section


class SequenceRNNConfig(Section):
    """LSTM/GRU over [C, T] signals or [T, features] sequences, for classification and regression
    (the `rnn` recipe's head on those tasks)."""
    cell: Literal["lstm", "gru"] = "lstm"
    """lstm or gru: a GRU has fewer parameters and often trains as well on short sequences."""
    hidden_size: int = Field(64, gt=0)
    layers: int = Field(1, ge=1)
    """Stacked recurrent layers."""
    bidirectional: bool = False
    dropout: float = Field(0.0, ge=0, lt=1)
    """Between stacked layers (needs layers > 1)."""
    pooling: Literal["last", "mean", "max", "flatten"] = "last"
    """How the per-step outputs become one vector: the final state, a mean/max over time, or all steps
    flattened (MNIST-1D's GRUBase)."""
    channels_first: bool = True
    """Inputs are [C, T] like a Conv1d signal (transposed to [T, C]); false: already [T, features]."""


class RNN(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], d_out: int, cfg: SequenceRNNConfig):
        super().__init__()
        if len(input_shape) == 1:
            steps, feats = input_shape[0], 1
            self.layout = "flat"
        else:
            feats, steps = input_shape if cfg.channels_first else input_shape[::-1]
            self.layout = "cf" if cfg.channels_first else "tf"
        Cell = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = Cell(feats, cfg.hidden_size, cfg.layers, batch_first=True, bidirectional=cfg.bidirectional,
                        dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.pooling = cfg.pooling
        width = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.head = nn.Linear(width * steps if cfg.pooling == "flatten" else width, d_out)
        self.bidirectional = cfg.bidirectional

    def forward(self, x):
        if self.layout == "flat":
            x = x.unsqueeze(-1)          # [N, T] -> [N, T, 1]
        elif self.layout == "cf":
            x = x.transpose(1, 2)        # [N, C, T] -> [N, T, C]
        out, h = self.rnn(x)             # out: [N, T, H * dirs]
        if self.pooling == "last":
            h = h[0] if isinstance(h, tuple) else h   # LSTM returns (h_n, c_n); h_n: [layers * dirs, N, H]
            feat = torch.cat([h[-2], h[-1]], -1) if self.bidirectional else h[-1]
        elif self.pooling == "mean":
            feat = out.mean(1)
        elif self.pooling == "max":
            feat = out.amax(1)
        else:
            feat = out.flatten(1)
        return self.head(feat)
