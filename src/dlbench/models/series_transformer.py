"""A Transformer encoder over numeric windows [features, steps] for forecasting (the `transformer` recipe's head
on forecasting data).

Each step's features are projected to d_model and given a learned position; a pre-norm encoder (torch's
TransformerEncoderLayer, norm_first) lets every step attend to every other. The horizon steps carry no target
values (only the future flag, known covariates and season), so attending to them leaks nothing; each horizon
step's output token is read by one linear layer into that step's forecast: DIRECT multi-step, all at once.
"""
from __future__ import annotations

import torch
from torch import nn


class SeriesTransformer(nn.Module):
    def __init__(self, input_shape: tuple[int, int], horizon: int, targets: int, mc):
        """targets: outputs per forecast step (the target columns, times 1 + quantiles when those are asked for)."""
        super().__init__()
        feats, steps = input_shape
        self.horizon, self.targets = horizon, targets
        self.embed = nn.Linear(feats, mc.d_model)
        self.pos = nn.Parameter(torch.randn(steps, mc.d_model) * mc.d_model ** -0.5)
        self.drop = nn.Dropout(mc.dropout)
        layer = nn.TransformerEncoderLayer(mc.d_model, mc.heads, mc.ff or 4 * mc.d_model, mc.dropout,
                                           activation=mc.activation, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, mc.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(mc.d_model)
        self.head = nn.Linear(mc.d_model, targets)

    def forward(self, x):  # x: [N, F, T] -> [N, horizon * targets] (step-major)
        h = self.drop(self.embed(x.transpose(1, 2)) + self.pos)           # [N, T, D]
        h = self.norm(self.encoder(h))[:, -self.horizon:]                # the horizon steps' tokens [N, H, D]
        return self.head(h).flatten(1)
