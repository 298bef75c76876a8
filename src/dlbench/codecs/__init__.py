"""One codec per kind of model input: the one table of kinds (no `if kind ==` anywhere else).

A run's model.json stores its fitted preprocessing as JSON with a `kind`; `codec_for(that JSON)` gives
the object that reads input files for `predict`, describes and decodes server requests, rebuilds raw
requests from a split (`bench infer`), maps model units back to the data's units (generators) and
tells export what the ONNX graph takes.
"""
from __future__ import annotations

from dlbench.codecs.array import ArrayCodec
from dlbench.codecs.audio import AudioCodec
from dlbench.codecs.base import DATATYPES, Codec, TensorSpec
from dlbench.codecs.image import ImageCodec
from dlbench.codecs.series import SeriesCodec
from dlbench.codecs.tabular import TabularCodec
from dlbench.codecs.text import TextCodec
from dlbench.errors import UserError

CODECS: dict[str, type[Codec]] = {c.kind: c for c in (ArrayCodec, TabularCodec, ImageCodec, TextCodec, AudioCodec,
                                                       SeriesCodec)}


def codec_for(preprocessing: dict) -> Codec:
    """The codec of a stored preprocessing (model.json's `preprocessing`)."""
    if not isinstance(preprocessing, dict) or preprocessing.get("kind") not in CODECS:
        kind = preprocessing.get("kind") if isinstance(preprocessing, dict) else None
        raise UserError(f"model.json names an unknown preprocessing kind '{kind}'",
                        f"known kinds: {', '.join(CODECS)}; was the run made by a newer dlbench?")
    try:
        return CODECS[preprocessing["kind"]].from_json(preprocessing)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"model.json: the stored preprocessing is incomplete ({e})",
                        "the run directory is damaged") from None


__all__ = ["CODECS", "Codec", "DATATYPES", "TensorSpec", "codec_for"]
