"""Transformer: the data picks the head.

- classification on token ids (text CSV): the encoder classifier `models.transformer.TransformerClassifier`;
- sequence-to-sequence (parallel texts): the encoder-decoder `models.transformer.TransformerSeq2Seq`.
"""
from __future__ import annotations

from typing import Literal

from dlbench.errors import UserError
from dlbench.models.transformer import (TransformerClassifier, TransformerClassifierConfig, TransformerSeq2Seq,
                                       TransformerSeq2SeqConfig)
from dlbench.recipes.base import Recipe
from dlbench.recipes.heads import seq2seq_extras


class TransformerConfig(TransformerClassifierConfig, TransformerSeq2SeqConfig):
    """Pre-norm Transformer. On labelled texts: an encoder classifier (`layers`, `pooling`); on parallel
    texts: an encoder-decoder (`encoder_layers`, `decoder_layers`, embeddings sharing, `decode`).
    Keys of the other head are ignored."""
    name: Literal["transformer"] = "transformer"


class TransformerRecipe(Recipe):
    name = "transformer"
    config = TransformerConfig
    description = "Transformer for text classification and translation (seq2seq)"
    tasks = ("classification", "seq2seq")

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
