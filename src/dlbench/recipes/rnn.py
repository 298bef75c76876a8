"""RNN (LSTM/GRU): the data picks the head.

- classification / regression on [C, T] signals or [T, features] sequences: `models.rnn.RNN`;
- sequence-to-sequence (parallel texts): the attentional encoder-decoder `models.seq2seq_rnn.RNNSeq2Seq`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlbench.errors import UserError
from dlbench.models.layers import output_dim
from dlbench.models.rnn import RNN, SequenceRNNConfig
from dlbench.models.seq2seq_rnn import RNNSeq2Seq, RNNSeq2SeqConfig
from dlbench.recipes.base import Recipe
from dlbench.recipes.heads import seq2seq_extras

HEAD_DEFAULTS = {"seq2seq": {"hidden_size": 256, "bidirectional": True, "dropout": 0.1},
                 None: {"hidden_size": 64, "bidirectional": False, "dropout": 0.0}}
"""Defaults of the keys whose good value depends on the head (translation wants a wider, bidirectional encoder)."""


class RNNConfig(SequenceRNNConfig, RNNSeq2SeqConfig):
    """LSTM/GRU. On sequences: a classifier/regressor over the steps; on parallel texts: an
    encoder-decoder with attention. Keys of the other head are ignored."""
    name: Literal["rnn"] = "rnn"
    hidden_size: int | None = Field(None, gt=0)
    """Hidden units per direction; null: 64 for sequence models, 256 for translation."""
    bidirectional: bool | None = None
    """Read sequences both ways; null: no for sequence models, yes for the translation encoder."""
    dropout: float | None = Field(None, ge=0, lt=1)
    """null: 0.0 for sequence models (between stacked layers), 0.1 for translation."""


class RNNRecipe(Recipe):
    name = "rnn"
    config = RNNConfig
    description = "LSTM/GRU for sequences and signals (classification, regression) and translation (seq2seq)"
    tasks = ("classification", "regression", "seq2seq")

    def fits(self, spec):
        if spec.task != "seq2seq" and "vocab_size" in spec.extras:
            return "its sequence head takes numeric sequences, not token ids"
        return super().fits(spec)

    def build(self, mc, spec):
        head = "seq2seq" if spec.task == "seq2seq" else None
        mc = mc.model_copy(update={k: v for k, v in HEAD_DEFAULTS[head].items() if getattr(mc, k) is None})
        if head == "seq2seq":
            e = seq2seq_extras(spec, self.name)
            return RNNSeq2Seq(e["src_vocab_size"], e["tgt_vocab_size"], e["pad_id"], mc)
        if "vocab_size" in spec.extras:
            raise UserError("model rnn reads numeric sequences, but this data gives token ids",
                            "use model.name: transformer for text classification")
        return RNN(tuple(spec.input_shape), output_dim(spec), mc)
