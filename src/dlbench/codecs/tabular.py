"""CSV rows: one request input per column (numbers FP64, categories BYTES); one-hot inside."""
from __future__ import annotations

import numpy as np

from dlbench.codecs.base import Codec, TensorSpec, check_exists, header_is_data, read_frame, split_arrays
from dlbench.data.preprocess import TabularPreprocessor
from dlbench.errors import UserError


class TabularCodec(Codec):
    kind = "tabular"

    @classmethod
    def from_json(cls, d: dict) -> "TabularCodec":
        return cls(TabularPreprocessor(d["numeric"], d["categorical"], d.get("impute", "none")))

    def read(self, path):
        p = check_exists(path)
        if p.suffix != ".csv" and path != "-":
            raise UserError(f"{path}: unsupported input type '{p.suffix}'", "give a .csv file (or '-' for stdin)")
        frame = read_frame(path)
        expected = self.pre.columns
        names = set(map(str, frame.columns))
        # none of the names the model reads, and as many columns as it reads: the first line is a row of data
        if not set(expected) & names and (header_is_data(frame) or len(names) == len(expected)):
            first = ", ".join(map(str, frame.columns[:6])) + (", ..." if len(frame.columns) > 6 else "")
            raise UserError(f"{path} has no header line: its first row ({first}) looks like data, and the model "
                            f"reads columns by name", f"add the header line: {','.join(expected)}")
        return self.pre.transform(frame), None

    def request_specs(self, input_shape):
        return ([TensorSpec(n["name"], "FP64", (-1,)) for n in self.pre.numeric]
                + [TensorSpec(c["name"], "BYTES", (-1,)) for c in self.pre.categorical])

    def decode(self, inputs):
        import pandas as pd

        return self.pre.transform(pd.DataFrame({k: (v.astype(str) if v.dtype == object else v)
                                                for k, v in inputs.items()}))

    def requests(self, split):
        x, _ = split_arrays(split)
        out: dict[str, np.ndarray] = {}
        col = 0
        for n in self.pre.numeric:
            out[n["name"]] = x[:, col].astype(np.float64) * n["std"] + n["mean"]
            col += 1
        for c in self.pre.categorical:
            k = len(c["categories"])
            block = x[:, col:col + k]
            col += k
            # an all-zero block was a category unseen in training: send one the model does not know either
            names = np.array(list(c["categories"]) + ["<unseen>"], dtype=object)
            pick = np.where(block.max(1) > 0.5, block.argmax(1), k) if k else np.zeros(len(x), int)
            out[c["name"]] = names[pick]
        return out

    def affine(self, d):
        scale, shift = np.ones(d), np.zeros(d)
        for i, n in enumerate(self.pre.numeric):  # numeric columns come first; one-hot ones stay 0..1
            scale[i], shift[i] = n["std"], n["mean"]
        return scale, shift

    def columns(self, data, feature_names):
        """The original columns back (one-hot -> category)."""
        header = [c["name"] for c in self.pre.numeric] + [c["name"] for c in self.pre.categorical]
        k = len(self.pre.numeric)
        cols = [data[:, i].tolist() for i in range(k)]
        for c in self.pre.categorical:
            block = data[:, k:k + len(c["categories"])]
            cols.append([c["categories"][j] for j in block.argmax(1)] if len(c["categories"]) else [""] * len(data))
            k += len(c["categories"])
        return header, cols
