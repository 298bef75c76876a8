"""The codec protocol and the tensor descriptions requests and responses are made of."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlbench.errors import UserError

# Open Inference Protocol datatypes -> numpy dtypes. BYTES tensors are object arrays holding
# str or bytes, one element per string (the protocol has no fixed-width string type).
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output tensor as advertised in the model metadata.

    shape: -1 marks a variable dimension; for a batchable predictor the first dimension is the
    batch and must be -1. optional: the request may leave this input out (it is then absent from
    the dict given to `predict`); the protocol's metadata has no such field, so it is not shown.
    binary: BYTES elements are files (raw bytes, base64 text in JSON), not UTF-8 text.
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    optional: bool = False
    binary: bool = False

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise ValueError(f"unknown datatype {self.datatype!r}; expected one of {sorted(DATATYPES)}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))


class Codec:
    """Base of the codecs: `pre` is the fitted preprocessor (`data.preprocess`), replayed exactly."""

    kind: ClassVar[str]
    input_dtype: ClassVar[Any] = np.float32
    """dtype of the model inputs `transform` produces (token ids stay integers)."""

    def __init__(self, pre, spec_shape: tuple[int, ...] | None = None):
        self.pre = pre

    @classmethod
    def from_json(cls, d: dict) -> "Codec":
        raise NotImplementedError

    def to_json(self) -> dict:
        return self.pre.to_json()

    def transform(self, raw) -> np.ndarray:
        return self.pre.transform(raw)

    # --- files (dlbench predict) ------------------------------------------------------------------
    def read(self, path: str) -> tuple[np.ndarray, list[str] | None]:
        """A file, folder or '-' (stdin) -> (model inputs, a name per row or None)."""
        raise NotImplementedError

    # --- requests (dlbench serve) -------------------------------------------------------------------
    def request_specs(self, input_shape: tuple[int, ...]) -> list[TensorSpec]:
        raise NotImplementedError

    def decode(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Request tensors (checked against `request_specs`) -> model inputs."""
        raise NotImplementedError

    def requests(self, split) -> dict[str, np.ndarray]:
        """The raw requests that `decode` turns into this split's model inputs (bench infer)."""
        raise UserError(f"bench infer cannot build requests for {self.kind} inputs")

    # --- the data's units (generators) --------------------------------------------------------------
    def affine(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(scale [d], shift [d]) with data = model_input * scale + shift per flat feature."""
        return np.ones(d), np.zeros(d)

    def to_data_units(self, x: np.ndarray) -> np.ndarray:
        """Model inputs [n, *shape] -> the data's units (standardization undone), same shape."""
        flat = x.reshape(len(x), -1).astype(np.float64)
        scale, shift = self.affine(flat.shape[1])
        return (flat * scale + shift).reshape(x.shape).astype(np.float32)

    def columns(self, data: np.ndarray, feature_names: list[str] | None) -> tuple[list[str], list[list]]:
        """Flat rows in data units -> (CSV header, columns)."""
        names = list(feature_names) if feature_names and len(feature_names) == data.shape[1] else \
            [f"x{i}" for i in range(data.shape[1])]
        return names, [data[:, i].tolist() for i in range(data.shape[1])]

    def encode_files(self, x: np.ndarray) -> tuple[str, list[bytes]] | None:
        """Generated model inputs [n, *shape] -> (file suffix, one file's bytes per sample) where the kind has a
        file format of its own (audio: WAV), else None."""
        return None

    # --- export ---------------------------------------------------------------------------------------
    def graph_standardization(self) -> tuple[Any, Any] | None:
        """(mean, std) an exported graph applies to raw inputs itself, or None: it starts at model inputs."""
        return None


def check_exists(path: str) -> Path:
    p = Path(path)
    if path != "-" and not p.exists():
        raise UserError(f"input not found: {path}")
    return p


def text_of(v) -> str:
    """A BYTES element as text."""
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("text inputs must be UTF-8") from None
    return str(v)


def read_frame(path: str, header: bool = True):
    """A CSV file or stdin ('-') as a DataFrame, with one clear line for a file that is not CSV.
    header=False: every line is data (columns numbered)."""
    import sys

    import pandas as pd

    try:
        return pd.read_csv(sys.stdin if path == "-" else path, header=0 if header else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a readable CSV file: {str(e).splitlines()[0]}") from None


def header_is_data(frame) -> bool:
    """True when every column name parses as a number: the CSV has no header line and pandas took its
    first row of data for one (that row would be lost)."""
    def number(name) -> bool:
        try:
            float(str(name))
            return True
        except ValueError:
            return False

    return len(frame.columns) > 0 and all(number(c) for c in frame.columns)


def split_arrays(split) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a split as numpy, reading lazily stored splits (image folders) in order."""
    if split.in_memory:
        return split.x.numpy(), split.y.numpy()
    import torch

    from dlbench.data.loaders import eval_batches

    xs, ys = zip(*eval_batches(split, 512, torch.device("cpu")))
    return torch.cat(xs).numpy(), torch.cat(ys).numpy()
