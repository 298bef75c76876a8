"""A temporal convolutional network (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional
and Recurrent Networks for Sequence Modeling"): residual blocks of two causal, dilated 1-D convolutions.

Causal: each convolution is padded on the left only, so the output at step t sees steps <= t. Dilated: block i
skips 2**i steps between kernel taps, so the receptive field doubles per block, 1 + 2 (kernel - 1) (2**blocks - 1)
steps in all. The head reads the last step (the only one that sees the whole window), or all steps flattened.
"""
from __future__ import annotations

from torch import nn

from dlbench.models.layers import activation


class CausalConv1d(nn.Conv1d):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int):
        super().__init__(c_in, c_out, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x):  # [N, C, T] -> [N, C', T]
        return super().forward(nn.functional.pad(x, (self.left, 0)))


class TemporalBlock(nn.Module):
    """act(conv) -> dropout -> act(conv) -> dropout, plus the input (1x1 conv when the width changes)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, act: str, dropout: float):
        super().__init__()
        self.net = nn.Sequential(CausalConv1d(c_in, c_out, kernel, dilation), activation(act), nn.Dropout(dropout),
                                 CausalConv1d(c_out, c_out, kernel, dilation), activation(act), nn.Dropout(dropout))
        self.shortcut = nn.Identity() if c_in == c_out else nn.Conv1d(c_in, c_out, 1)
        self.act = activation(act)

    def forward(self, x):
        return self.act(self.net(x) + self.shortcut(x))


class TCN(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], d_out: int, channels: list[int], kernels: list[int],
                 act: str = "relu", dropout: float = 0.0, flatten: bool = False):
        super().__init__()
        c, steps = input_shape
        blocks = []
        for i, (w, k) in enumerate(zip(channels, kernels)):
            blocks.append(TemporalBlock(c, w, k, 2 ** i, act, dropout))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.flatten = flatten
        self.head = nn.Linear(c * steps if flatten else c, d_out)
        self.receptive_field = 1 + sum(2 * (k - 1) * 2 ** i for i, k in enumerate(kernels))

    def forward(self, x):  # x: [N, C, T] -> [N, d_out]
        h = self.blocks(x)
        return self.head(h.flatten(1) if self.flatten else h[:, :, -1])


def blocks_for(steps: int, kernel: int) -> int:
    """Blocks whose receptive field covers `steps`."""
    n = 1
    while 1 + 2 * (kernel - 1) * (2 ** n - 1) < steps:
        n += 1
    return n


__all__ = ["TCN", "CausalConv1d", "TemporalBlock", "blocks_for"]
