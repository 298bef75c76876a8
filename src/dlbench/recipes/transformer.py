"""Transformer: the data picks the head.

- classification on token ids (text CSV): the encoder classifier `models.transformer.TransformerClassifier`;
- sequence-to-sequence (parallel texts): the encoder-decoder `models.transformer.TransformerSeq2Seq`;
- language modelling (a text corpus): the decoder-only `models.causal_lm.CausalTransformerLM` (KV cache, tied
  embeddings); generation and serving in recipes/language_model.py.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from dlbench.errors import UserError
from dlbench.models.causal_lm import CausalTransformerLM
from dlbench.models.transformer import (TransformerClassifier, TransformerClassifierConfig, TransformerSeq2Seq,
                                       TransformerSeq2SeqConfig)
from dlbench.recipes.base import Recipe, Suggestion
from dlbench.recipes import language_model as lm
from dlbench.recipes.heads import lm_extras, seq2seq_extras

LAYERS = {"language_model": 4, None: 2}
"""`layers` when the config leaves it null: a language model is deeper than a classifier."""


class TransformerConfig(TransformerClassifierConfig, TransformerSeq2SeqConfig):
    """Pre-norm Transformer. On labelled texts: an encoder classifier (`layers`, `pooling`); on parallel
    texts: an encoder-decoder (`encoder_layers`, `decoder_layers`, embeddings sharing, `decode`); on a corpus:
    a decoder-only language model (`layers`, `tie_embeddings`). Keys of the other heads are ignored."""
    name: Literal["transformer"] = "transformer"
    """The family: a pre-norm Transformer; the data picks the head (an encoder classifier for labelled texts, an
    encoder-decoder for translation, a causal decoder for a text corpus)."""
    layers: int | None = Field(None, ge=1)
    """Layers of the classifier's encoder or of the language model; null: 2 for a classifier, 4 for a language
    model."""


class TransformerRecipe(lm.LanguageModelHead, Recipe):
    name = "transformer"
    config = TransformerConfig
    description = "Transformer for text classification, translation (seq2seq) and language modelling"
    tasks = ("classification", "seq2seq", "language_model", "forecasting")
    title = "Transformer (encoder)"

    def suggest(self, profile, goal):
        if profile.kind == "corpus":
            return Suggestion(self.name, 0, "Transformer language model (decoder-only)", [
                "text generation: a causal Transformer attends to the whole context window and trains in parallel "
                "over positions"], variant="language-model")
        if profile.kind == "text" and profile.task == "classification":
            return Suggestion(self.name, 0, self.title, [
                "text classification: self-attention relates words across the whole text; with "
                f"{profile.n} examples a small Transformer is well supported"])
        if profile.kind == "translation":
            large = profile.n >= 5000
            return Suggestion(self.name, 0 if large else 1, "Transformer (encoder-decoder)", [
                "translation: an encoder-decoder Transformer is the standard for sequence to sequence tasks and "
                "trains in parallel over positions"] if large else [], variant="seq2seq")
        return None

    def starter(self, profile, suggestion, sizes, steps):
        if suggestion.variant == "language-model":
            big = profile.n * 128 > 2_000_000  # n: windows of 128 characters
            if big:
                model = {"name": self.name, "d_model": 256, "heads": 4, "layers": 6, "dropout": 0.1}
                return model, {"lr": 1e-3, "warmup_steps": max(1, steps // 20), "grad_clip": 1.0}, lm.starter_data(profile)
            # small corpora: shallow, short context, a high peak lr (configs/pydoc-char-transformer.yaml, measured:
            # 4 layers / context 128 / lr 1e-3-3e-3 sat on the bigram plateau at ~3 bits/char for the whole CPU budget)
            model = {"name": self.name, "d_model": 128, "heads": 4, "layers": 2, "dropout": 0.0}
            optim = {"lr": 8e-3, "warmup_steps": min(50, max(1, steps // 20)), "schedule": "cosine", "grad_clip": 1.0}
            return model, optim, {**lm.starter_data(profile), "context": 64}
        n = sizes["n_train"]
        optim = {"lr": 5e-4, "warmup_steps": max(1, steps // 10)}
        if suggestion.variant == "seq2seq":
            layers = 2 if n < 10_000 else 3
            model = {"name": self.name, "d_model": 128 if n < 50_000 else 256, "heads": 4, "encoder_layers": layers,
                     "decoder_layers": layers, "dropout": 0.1}
            return model, optim, {"max_len": int(min(256, max(16, profile.text_len * 2 + 4))),
                                  "tokenizer": {"type": "word"}}
        model = {"name": self.name, "d_model": 64 if n < 10_000 else 128, "heads": 4,
                 "layers": 2 if n < 10_000 else 4, "dropout": 0.1}
        return model, optim, {"max_len": int(min(512, max(16, profile.text_len * 1.5 + 2))),
                              "tokenizer": {"type": "word"}}

    def fits(self, spec):
        if spec.task == "classification" and "vocab_size" not in spec.extras:
            return "its classifier reads token ids (text data), and this data has no vocabulary"
        return super().fits(spec)

    def build(self, mc, spec):
        mc = mc.model_copy(update={"layers": mc.layers or LAYERS.get(spec.task, LAYERS[None])})
        if spec.task == "forecasting":  # numeric windows: an encoder whose horizon tokens give the forecast
            from dlbench.models.series_transformer import SeriesTransformer

            e = spec.extras
            return SeriesTransformer(tuple(spec.input_shape), e["horizon"], spec.target_dim // e["horizon"], mc)
        if spec.task == "language_model":
            e = lm_extras(spec, self.name)
            return CausalTransformerLM(e["vocab_size"], e["context"], mc)
        if spec.task == "seq2seq":
            e = seq2seq_extras(spec, self.name)
            if mc.share_embeddings and not e.get("shared_vocab"):
                raise UserError("model.share_embeddings needs one vocabulary for both languages",
                                "set data.shared_vocab: true, or model.share_embeddings: false")
            return TransformerSeq2Seq(e["src_vocab_size"], e["tgt_vocab_size"], e["max_len"], e["pad_id"], mc)
        if spec.task != "classification" or "vocab_size" not in spec.extras:
            raise UserError(f"model transformer classifies token sequences, but the data is a {spec.task} set"
                            f"{'' if 'vocab_size' in spec.extras else ' without a vocabulary'}",
                            "use data.kind text-csv / numbers-language, parallel texts for translation, or a "
                            "corpus for a language model")
        e = spec.extras
        return TransformerClassifier(e["vocab_size"], e["max_len"], spec.num_classes, e["pad_id"], mc)
