"""What the server needs from a model: the `Predictor` protocol and its tensor descriptions.

The server only speaks numpy. Whoever loads a run directory (`dlbench.inference.load_predictor`)
returns an object with this shape; the server never touches torch, checkpoints or configs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Open Inference Protocol datatypes -> numpy dtypes. BYTES tensors are object arrays holding
# str or bytes, one element per string (the protocol has no fixed-width string type).
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output tensor as advertised in the model metadata.

    shape: -1 marks a variable dimension; for a batchable predictor the first dimension is the
    batch and must be -1. optional: the request may leave this input out (it is then absent from
    the dict given to `predict`); the protocol's metadata has no such field, so it is not shown.
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    optional: bool = False

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise ValueError(f"unknown datatype {self.datatype!r}; expected one of {sorted(DATATYPES)}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, ready to answer requests.

    predict() receives batch-first numpy arrays keyed by input name (already checked against
    `inputs()`: datatype, rank and fixed dimensions) and returns arrays keyed by output name, each
    with the same first dimension as the inputs when `batchable`. It runs in a worker thread, one
    call at a time per predictor. It raises `dlbench.errors.UserError` for input that is well
    formed but unacceptable (e.g. a label out of range); the client then gets a 400 with its text.
    """

    name: str
    version: str
    platform: str
    batchable: bool

    def inputs(self) -> list[TensorSpec]: ...

    def outputs(self) -> list[TensorSpec]: ...

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]: ...
