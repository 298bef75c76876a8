"""Transformer: the data picks the head.

- classification on token ids (text CSV): the encoder classifier `models.transformer.TransformerClassifier`;
- sequence-to-sequence (parallel texts): the encoder-decoder `models.transformer.TransformerSeq2Seq`.
"""
from __future__ import annotations

from typing import Literal

from dlbench.errors import UserError
from dlbench.models.transformer import (TransformerClassifier, TransformerClassifierConfig, TransformerSeq2Seq,
                                       TransformerSeq2SeqConfig)
from dlbench.recipes.base import Recipe, Suggestion
from dlbench.recipes.heads import seq2seq_extras


class TransformerConfig(TransformerClassifierConfig, TransformerSeq2SeqConfig):
    """Pre-norm Transformer. On labelled texts: an encoder classifier (`layers`, `pooling`); on parallel
    texts: an encoder-decoder (`encoder_layers`, `decoder_layers`, embeddings sharing, `decode`).
    Keys of the other head are ignored."""
    name: Literal["transformer"] = "transformer"
    """The family: a pre-norm Transformer; the data picks the head (an encoder classifier for labelled texts, an
    encoder-decoder for translation)."""


class TransformerRecipe(Recipe):
    name = "transformer"
    config = TransformerConfig
    description = "Transformer for text classification and translation (seq2seq)"
    tasks = ("classification", "seq2seq")
    title = "Transformer (encoder)"

    def suggest(self, profile, goal):
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
        if spec.task == "seq2seq":
            e = seq2seq_extras(spec, self.name)
            if mc.share_embeddings and not e.get("shared_vocab"):
                raise UserError("model.share_embeddings needs one vocabulary for both languages",
                                "set data.shared_vocab: true, or model.share_embeddings: false")
            return TransformerSeq2Seq(e["src_vocab_size"], e["tgt_vocab_size"], e["max_len"], e["pad_id"], mc)
        if spec.task != "classification" or "vocab_size" not in spec.extras:
            raise UserError(f"model transformer classifies token sequences, but the data is a {spec.task} set"
                            f"{'' if 'vocab_size' in spec.extras else ' without a vocabulary'}",
                            "use data.kind text-csv / numbers-language, or parallel texts for translation")
        e = spec.extras
        return TransformerClassifier(e["vocab_size"], e["max_len"], spec.num_classes, e["pad_id"], mc)
