"""One explicit table: model.name -> (config class, builder(cfg, spec) -> nn.Module)."""
from __future__ import annotations

from dlbench.models.cnn import CNNConfig, build_cnn
from dlbench.models.mlp import MLPConfig, build_mlp
from dlbench.models.rnn import RNNConfig, build_rnn

MODELS = {
    "mlp": (MLPConfig, build_mlp),
    "cnn": (CNNConfig, build_cnn),
    "rnn": (RNNConfig, build_rnn),
}


def build_model(cfg, spec):
    return MODELS[cfg.name][1](cfg, spec)
