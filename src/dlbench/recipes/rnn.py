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
from dlbench.recipes.base import Recipe, Suggestion
from dlbench.recipes.heads import seq2seq_extras

HEAD_DEFAULTS = {"seq2seq": {"hidden_size": 256, "bidirectional": True, "dropout": 0.1},
                 None: {"hidden_size": 64, "bidirectional": False, "dropout": 0.0}}
"""Defaults of the keys whose good value depends on the head (translation wants a wider, bidirectional encoder)."""


class RNNConfig(SequenceRNNConfig, RNNSeq2SeqConfig):
    """LSTM/GRU. On sequences: a classifier/regressor over the steps; on parallel texts: an
    encoder-decoder with attention. Keys of the other head are ignored."""
    name: Literal["rnn"] = "rnn"
    """The family: LSTM/GRU; the data picks the head (a classifier or regressor over sequences, an encoder-decoder for
    translation)."""
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
    title = "RNN (GRU)"

    def suggest(self, profile, goal):
        if profile.kind == "translation":
            small = profile.n < 5000
            return Suggestion(self.name, 0 if small else 1, "RNN encoder-decoder", [
                f"translation with only {profile.n} pairs: an RNN encoder-decoder with attention trains more "
                "reliably on little data"] if small else [], variant="seq2seq")
        if profile.kind == "signal" and profile.task in ("classification", "regression"):
            first = len(profile.shape) != 2  # a [C, T] array suits a 1-D CNN first
            return Suggestion(self.name, 0 if first else 1, self.title, [
                "ordered sequence: local patterns (peaks, edges) matter wherever they occur; a GRU reads the "
                "columns in order (a 1-D CNN would need the data as an NPZ x of shape [N, 1, T])"] if first else [])
        return None

    def starter(self, profile, suggestion, sizes, steps):
        if suggestion.variant == "seq2seq":
            h = 128 if sizes["n_train"] < 10_000 else 256
            model = {"name": self.name, "cell": "gru", "embedding_dim": h // 2, "hidden_size": h, "layers": 1,
                     "attention": "luong", "dropout": 0.2 if sizes["n_train"] < 2000 else 0.1}
            data = {"max_len": int(min(256, max(16, profile.text_len * 2 + 4))), "tokenizer": {"type": "word"}}
            return model, {"grad_clip": 1.0}, data
        steps_len = profile.shape[-1] if profile.shape else 1
        model = {"name": self.name, "cell": "gru", "hidden_size": min(128, sizes["width"]), "bidirectional": True,
                 "pooling": "flatten" if steps_len <= 64 else "mean"}
        return model, {"grad_clip": 1.0}, {}  # recurrent gradients can spike; clipping keeps a high lr safe

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
