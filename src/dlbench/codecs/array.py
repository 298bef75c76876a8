"""Arrays of a fixed per-sample shape (digits, MNIST-1D, .npz): raw values in, standardized inside."""
from __future__ import annotations

import io
import sys

import numpy as np

from dlbench.codecs.base import DATATYPES, Codec, TensorSpec, check_exists, header_is_data, read_frame, split_arrays
from dlbench.data.preprocess import ArrayPreprocessor
from dlbench.errors import UserError


class ArrayCodec(Codec):
    kind = "array"

    @classmethod
    def from_json(cls, d: dict) -> "ArrayCodec":
        return cls(ArrayPreprocessor(d["input_shape"], d["mean"], d["std"]))

    def read(self, path):
        p = check_exists(path)
        if p.suffix == ".npz":
            from dlbench.data.arrays import load_npz

            arrays = load_npz(p)
            if "x" not in arrays:
                raise UserError(f"{path}: needs an array named 'x' (found {', '.join(arrays) or 'none'})")
            return self.pre.transform(arrays["x"]), None
        if p.suffix == ".csv" or path == "-":
            # one sample per row, its values flattened; a label column, if present, is ignored. A file
            # without a header line is read whole (its first row is a sample, not names).
            if path == "-":  # stdin is read once, kept, and read again if its first line is data
                path = io.StringIO(sys.stdin.read())
            frame = read_frame(path)
            if header_is_data(frame):
                if hasattr(path, "seek"):
                    path.seek(0)
                frame = read_frame(path, header=False)
            frame = frame.drop(columns=[c for c in ("label", "target", "y") if c in frame.columns])
            return self.pre.transform(frame.to_numpy()), None
        raise UserError(f"{path}: unsupported input type '{p.suffix}'", "give a .csv or .npz file")

    def request_specs(self, input_shape):
        return [TensorSpec("input", "FP32", (-1, *input_shape))]

    def decode(self, inputs):
        return self.pre.transform(inputs["input"])

    def requests(self, split):
        x, _ = split_arrays(split)
        return {"input": (x * self.pre.std + self.pre.mean).astype(DATATYPES["FP32"])}

    def affine(self, d):
        shape = self.pre.input_shape
        return (np.broadcast_to(self.pre.std.astype(np.float64), shape).ravel().copy(),
                np.broadcast_to(self.pre.mean.astype(np.float64), shape).ravel().copy())

    def graph_standardization(self):
        return self.pre.mean, self.pre.std
