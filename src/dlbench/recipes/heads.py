"""What the heads of several families check in the data: the data decides the head (parallel texts build an
encoder-decoder, a corpus builds a language model)."""
from __future__ import annotations

from dlbench.errors import UserError


def seq2seq_extras(spec, family: str) -> dict:
    """The vocabulary facts a translation head is built from."""
    if spec.task != "seq2seq":
        raise UserError(f"the {family} translation head needs parallel texts, but the data is a {spec.task} set",
                        "use data.kind numbers or parallel-tsv")
    return spec.extras


def lm_extras(spec, family: str) -> dict:
    """The vocabulary and context a language-model head is built from (a corpus decides this head)."""
    if spec.task != "language_model":
        raise UserError(f"the {family} language model needs a text corpus, but the data is a {spec.task} set",
                        "use data.kind corpus")
    return spec.extras
