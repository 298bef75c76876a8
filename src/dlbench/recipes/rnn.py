"""RNN (LSTM/GRU): the data picks the head.

- classification / regression on [C, T] signals or [T, features] sequences: `models.rnn.RNN`;
- classification of texts (token ids, the text-csv data): `models.rnn_text.TextRNNClassifier`;
- sequence-to-sequence (parallel texts): the attentional encoder-decoder `models.seq2seq_rnn.RNNSeq2Seq`;
- language modelling (a text corpus): `models.causal_lm.RNNLM`; generation and serving in
  recipes/language_model.py.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlbench.errors import UserError
from dlbench.models.causal_lm import RNNLM
from dlbench.models.layers import output_dim
from dlbench.models.rnn import RNN, SequenceRNNConfig
from dlbench.models.rnn_text import TextRNNClassifier
from dlbench.models.seq2seq_rnn import RNNSeq2Seq, RNNSeq2SeqConfig
from dlbench.recipes import language_model as lm
from dlbench.recipes.base import Recipe, Suggestion
from dlbench.recipes.heads import lm_extras, seq2seq_extras

HEAD_DEFAULTS = {
    "seq2seq": {"cell": "lstm", "hidden_size": 256, "bidirectional": True, "dropout": 0.1},
    "text": {"cell": "gru", "hidden_size": 128, "bidirectional": True, "dropout": 0.2, "pooling": "mean"},
    "language_model": {"cell": "lstm", "hidden_size": 256, "bidirectional": False, "dropout": 0.1},
    None: {"cell": "gru", "hidden_size": 64, "bidirectional": True, "dropout": 0.0},
}
"""Defaults of the keys whose good value depends on the head. Sequences: a bidirectional GRU (MNIST-1D, 2026-12:
GRU + bidirectional + flatten pooling 0.926 test accuracy against 0.533 for the former LSTM / one direction /
last state)."""
FLATTEN_MAX_STEPS = 64
"""pooling auto on numeric sequences: every step flattened into the head up to this many steps, else the mean."""


def head_of(spec) -> str | None:
    if spec.task in ("seq2seq", "language_model"):
        return spec.task
    return "text" if "vocab_size" in spec.extras else None


class RNNConfig(SequenceRNNConfig, RNNSeq2SeqConfig):
    """LSTM/GRU. On sequences: a classifier/regressor over the steps; on labelled texts: an embedding and a
    classifier; on parallel texts: an encoder-decoder with attention; on a corpus: a language model. Keys of
    the other heads are ignored."""
    name: Literal["rnn"] = "rnn"
    """The family: LSTM/GRU; the data picks the head (a classifier or regressor over sequences or texts, an
    encoder-decoder for translation, a language model for a text corpus)."""
    cell: Literal["lstm", "gru"] | None = None
    """lstm or gru; null: gru for sequences and texts, lstm for translation and language models."""
    hidden_size: int | None = Field(None, gt=0)
    """Hidden units per direction; null: 64 for sequences, 128 for texts, 256 for translation and language models."""
    bidirectional: bool | None = None
    """Read sequences both ways; null: yes for sequences, texts and the translation encoder, no for a language
    model (which must not see the future)."""
    dropout: float | None = Field(None, ge=0, lt=1)
    """null: 0.0 for sequences (between stacked layers), 0.2 for texts, 0.1 for translation and language models."""
    pooling: Literal["auto", "last", "mean", "max", "flatten"] | None = None
    """How the per-step outputs become one vector: the final state, a mean/max over time, or all steps flattened;
    null/auto: flatten up to 64 steps, else mean (texts: mean over the real tokens; flatten does not apply)."""


class RNNRecipe(lm.LanguageModelHead, Recipe):
    name = "rnn"
    config = RNNConfig
    description = ("LSTM/GRU for sequences, signals and texts (classification, regression), translation (seq2seq) "
                   "and language modelling")
    tasks = ("classification", "regression", "seq2seq", "language_model", "forecasting")
    title = "RNN (GRU)"

    def suggest(self, profile, goal):
        if profile.kind == "corpus":
            return Suggestion(self.name, 1, "LSTM language model", [], variant="language-model")
        if profile.kind == "text" and profile.task == "classification":
            return Suggestion(self.name, 1, "RNN text classifier (bidirectional GRU)", [
                "text classification: a bidirectional GRU reads the words in order; smaller and often as good as a "
                "Transformer on short texts"], variant="text")
        if profile.kind == "translation":
            small = profile.n < 5000
            return Suggestion(self.name, 0 if small else 1, "RNN encoder-decoder", [
                f"translation with only {profile.n} pairs: an RNN encoder-decoder with attention trains more "
                "reliably on little data"] if small else [], variant="seq2seq")
        if profile.kind == "audio" and goal != "generate":
            return Suggestion(self.name, 1, "RNN (GRU) on spectrogram frames", [
                "audio: a bidirectional GRU reads the log-mel frames in order (data.layout: sequence)"], variant="audio")
        if profile.kind == "signal" and profile.task in ("classification", "regression"):
            first = len(profile.shape) != 2  # a [C, T] array suits a 1-D CNN first
            return Suggestion(self.name, 0 if first else 1, self.title, [
                "ordered sequence: local patterns (peaks, edges) matter wherever they occur; a GRU reads the "
                "columns in order (a 1-D CNN would need the data as an NPZ x of shape [N, 1, T])"] if first else [])
        return None

    def starter(self, profile, suggestion, sizes, steps):
        if suggestion.variant == "language-model":
            model = {"name": self.name, "cell": "lstm", "embedding_dim": 256, "hidden_size": 256, "layers": 1,
                     "tie_embeddings": True}
            return model, {"lr": 3e-3, "grad_clip": 1.0}, lm.starter_data(profile)
        if suggestion.variant == "text":
            model = {"name": self.name, "cell": "gru", "embedding_dim": 64 if sizes["n_train"] < 10_000 else 128,
                     "hidden_size": min(128, sizes["width"]), "bidirectional": True, "pooling": "mean"}
            return model, {"grad_clip": 1.0}, {"max_len": int(min(512, max(16, profile.text_len * 1.5 + 2))),
                                               "tokenizer": {"type": "word"}}
        if suggestion.variant == "seq2seq":
            h = 128 if sizes["n_train"] < 10_000 else 256
            model = {"name": self.name, "cell": "gru", "embedding_dim": h // 2, "hidden_size": h, "layers": 1,
                     "attention": "luong", "dropout": 0.2 if sizes["n_train"] < 2000 else 0.1}
            data = {"max_len": int(min(256, max(16, profile.text_len * 2 + 4))), "tokenizer": {"type": "word"}}
            return model, {"grad_clip": 1.0}, data
        if suggestion.variant == "audio":  # mel bands are the features of each 10 ms frame
            model = {"name": self.name, "cell": "gru", "hidden_size": min(128, sizes["width"]), "bidirectional": True,
                     "pooling": "mean"}
            return model, {"grad_clip": 1.0}, {"layout": "sequence"}
        steps_len = profile.shape[-1] if profile.shape else 1
        model = {"name": self.name, "cell": "gru", "hidden_size": min(128, sizes["width"]), "bidirectional": True,
                 "pooling": "flatten" if steps_len <= 64 else "mean"}
        return model, {"grad_clip": 1.0}, {}  # recurrent gradients can spike; clipping keeps a high lr safe

    def build(self, mc, spec):
        head = head_of(spec)
        defaults = HEAD_DEFAULTS[head]
        mc = mc.model_copy(update={k: v for k, v in defaults.items() if getattr(mc, k) in (None, "auto")})
        if head == "seq2seq":
            e = seq2seq_extras(spec, self.name)
            return RNNSeq2Seq(e["src_vocab_size"], e["tgt_vocab_size"], e["pad_id"], mc)
        if head == "language_model":
            if mc.bidirectional:
                raise UserError("model.bidirectional: true would let a language model read the tokens it predicts",
                                "remove it (a language model reads left to right)")
            return RNNLM(lm_extras(spec, self.name)["vocab_size"], mc)
        if head == "text":
            if mc.pooling == "flatten":
                raise UserError("model.pooling: flatten does not apply to texts of different lengths",
                                "use mean, max or last")
            if spec.task != "classification":
                raise UserError(f"model rnn reads texts for classification, not {spec.task}")
            e = spec.extras
            return TextRNNClassifier(e["vocab_size"], spec.num_classes, e["pad_id"], mc)
        if len(spec.input_shape) > 2:
            raise UserError(f"model rnn reads [C, T] signals or [T, features] sequences, and the data gives "
                            f"{list(spec.input_shape)}", "for audio spectrograms set data.layout: sequence")
        if mc.pooling in (None, "auto"):
            shape = tuple(spec.input_shape)
            steps = shape[0] if len(shape) == 1 else (shape[-1] if mc.channels_first else shape[0])
            mc = mc.model_copy(update={"pooling": "flatten" if steps <= FLATTEN_MAX_STEPS else "mean"})
        return RNN(tuple(spec.input_shape), output_dim(spec), mc)
