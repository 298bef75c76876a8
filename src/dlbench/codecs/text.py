"""Texts: UTF-8 strings in requests, one per line in files; token ids (int64) inside."""
from __future__ import annotations

import numpy as np

from dlbench.codecs.base import Codec, TensorSpec, check_exists, text_of
from dlbench.errors import UserError


class TextCodec(Codec):
    kind = "text"
    input_dtype = np.int64

    @classmethod
    def from_json(cls, d: dict) -> "TextCodec":
        from dlbench.data.tokenize import TextPreprocessor

        return cls(TextPreprocessor.from_json(d))

    def read(self, path):
        """A .txt file or "-" (one text per line), or a CSV with the text column the model was trained on."""
        from dlbench.data.tokenize import read_text_inputs

        check_exists(path)
        return read_text_inputs(self.pre, path)

    def request_specs(self, input_shape):
        return [TensorSpec("text", "BYTES", (-1,))]

    def decode(self, inputs):
        return self.pre.transform([text_of(v) for v in inputs["text"]])

    def requests(self, split):
        sources = getattr(split, "sources", None)
        if sources is None:
            raise UserError("the rebuilt split has no source texts", "is the run from an older dlbench?")
        arr = np.empty(len(sources), dtype=object)
        arr[:] = sources
        return {"text": arr}
