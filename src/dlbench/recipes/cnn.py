"""CNN: [C, T] signals (Conv1d) and [C, H, W] images (Conv2d) -> classes or values; forecasting windows
[features, steps] through causal, dilated 1-D convolutions (a TCN, `causal: true`)."""
from __future__ import annotations

import math
from typing import Literal

from dlbench.errors import UserError
from dlbench.models.cnn import CNN, CNNNetConfig, ConvStage
from dlbench.models.layers import output_dim
from dlbench.models.tcn import TCN, blocks_for
from dlbench.recipes.base import Recipe, Suggestion


class CNNConfig(CNNNetConfig):
    """Convolutional network over [C, T] signals or [C, H, W] images."""
    name: Literal["cnn"] = "cnn"
    """The family: a convolutional network over [C, T] signals (Conv1d) or [C, H, W] images (Conv2d)."""
    causal: bool | None = None
    """1-D only: a temporal convolutional network (TCN, Bai et al. 2018): each stage is a residual block of two
    causal convolutions (step t sees steps <= t) dilated 2**i at stage i, so the receptive field doubles per
    stage; stride and pool must stay 1 and none. The head reads the last step (head: flatten reads all).
    null: yes for forecasting windows (with the default `stages` replaced by enough 32-channel stages to see the
    whole window), no otherwise."""


class CNNRecipe(Recipe):
    name = "cnn"
    config = CNNConfig
    description = "convolutional network for images and 1-D signals (classification, regression)"
    title = "CNN"
    tasks = ("classification", "regression", "forecasting")

    def suggest(self, profile, goal):
        if profile.task == "forecasting":
            return Suggestion(self.name, 0, "TCN (causal dilated 1-D CNN)", [
                "time series: causal, dilated convolutions read the whole lookback window with few parameters, "
                "train in parallel over the steps (unlike an RNN) and forecast every step of the horizon at once"],
                variant="tcn")
        if profile.task not in ("classification", "regression"):
            return None
        if profile.kind == "image":
            return Suggestion(self.name, 0, self.title, [
                "images: convolutions share weights across positions and pool over them, so a CNN needs far "
                "fewer parameters than an MLP and is robust to small shifts"])
        if profile.kind == "audio":
            two_d = len(profile.shape) == 3
            return Suggestion(self.name, 0, "CNN on log-mel spectrograms" if two_d else "1-D CNN on log-mel frames", [
                "audio: a spoken word or a sound is a pattern in time and frequency (formants, onsets, sweeps) that "
                "may occur anywhere in the clip; convolutions find it wherever it is, with few parameters"],
                variant="" if two_d else "1d")
        if profile.kind == "signal" and len(profile.shape) == 2:
            return Suggestion(self.name, 0, "1-D CNN", [
                "ordered sequence: local patterns (peaks, edges) matter wherever they occur; a 1-D CNN finds them "
                "with few parameters and is fast on long sequences"], variant="1d")
        return None

    def starter(self, profile, suggestion, sizes, steps):
        if suggestion.variant == "tcn":  # enough dilated stages to see the whole window (profile.shape: [F, T])
            n = blocks_for(profile.shape[-1], 3)
            stages = [{"channels": 32 if sizes["n_train"] < 5000 else 64, "kernel": 3} for _ in range(n)]
            return {"name": self.name, "causal": True, "stages": stages, "dropout": 0.1}, {}, {}
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
        causal = mc.causal if mc.causal is not None else spec.task == "forecasting"
        if causal:
            if mc.causal is None and mc.stages == CNNNetConfig().stages:  # the defaults pool: no TCN takes them
                mc = mc.model_copy(update={"stages": [ConvStage(channels=32) for _ in
                                                      range(blocks_for(spec.input_shape[-1], 3))]})
            if len(spec.input_shape) != 2:
                raise UserError(f"model.causal needs [C, T] sequences, but the data gives {list(spec.input_shape)}",
                                "set model.causal: false for images")
            if any(st.stride != 1 or st.pool != "none" for st in mc.stages):
                raise UserError("model.causal keeps every step: its stages take no stride or pooling",
                                "remove stride and pool from model.stages")
            return TCN(tuple(spec.input_shape), output_dim(spec), [st.channels for st in mc.stages],
                       [st.kernel for st in mc.stages], mc.activation, mc.dropout, mc.head == "flatten")
        if len(spec.input_shape) not in (2, 3):
            raise UserError(f"model cnn needs [C, T] signals or [C, H, W] images, but the data gives "
                            f"{list(spec.input_shape)}", "use an MLP for flat features, or data.flatten: false")
        return CNN(tuple(spec.input_shape), output_dim(spec), mc)
