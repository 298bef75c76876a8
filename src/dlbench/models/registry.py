"""One explicit table: model.name -> (config class, builder(cfg, spec) -> nn.Module)."""
from __future__ import annotations

from dlbench.models.cnn import CNNConfig, build_cnn
from dlbench.models.gan import GANConfig, build_gan
from dlbench.models.mlp import MLPConfig, build_mlp
from dlbench.models.rnn import RNNConfig, build_rnn
from dlbench.models.seq2seq_rnn import RNNSeq2SeqConfig, build_rnn_seq2seq
from dlbench.models.transformer import (TransformerConfig, TransformerSeq2SeqConfig, build_transformer,
                                       build_transformer_seq2seq)

MODELS = {
    "mlp": (MLPConfig, build_mlp),
    "cnn": (CNNConfig, build_cnn),
    "rnn": (RNNConfig, build_rnn),
    "transformer": (TransformerConfig, build_transformer),
    "transformer-seq2seq": (TransformerSeq2SeqConfig, build_transformer_seq2seq),
    "rnn-seq2seq": (RNNSeq2SeqConfig, build_rnn_seq2seq),
    "gan": (GANConfig, build_gan),
}


def build_model(cfg, spec):
    return MODELS[cfg.name][1](cfg, spec)
