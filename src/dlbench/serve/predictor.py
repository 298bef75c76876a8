"""What the server needs from a model: the `Predictor` protocol and its tensor descriptions.

The server only speaks numpy. Whoever loads a run directory (`dlbench.serve.runs.load_predictor`)
returns an object with this shape; the server never touches torch, checkpoints or configs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from dlbench.codecs.base import DATATYPES, TensorSpec  # noqa: F401  (re-exported: the server's vocabulary)


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
