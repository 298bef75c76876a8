"""JSON tensors <-> numpy arrays, with every check a client can fail reported as a UserError.

Each message names the tensor and says what was expected, because the client cannot see the
model: "input 'input': expected shape [-1, 40], got [2, 39]" is actionable, "bad request" is not.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbench.errors import UserError
from dlbench.serve import binary
from dlbench.serve.predictor import DATATYPES, TensorSpec
from dlbench.serve.protocol import RequestInput

_INT_TYPES = {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
_FLOAT_TYPES = {"FP16", "FP32", "FP64"}


def shape_str(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _flatten(data: list, shape: Sequence[int], where: str) -> list:
    """Row-major flat list from `data` given flat or nested exactly to `shape` (both allowed by spec).

    Iterative, so a deeply nested body cannot exhaust the Python stack.
    """
    if not any(isinstance(v, list) for v in data):
        return data
    flat: list = []
    # (sublist, depth): every list at depth d must have shape[d] elements; leaves only at the bottom.
    stack: list[tuple[list, int]] = [(data, 0)]
    while stack:
        items, depth = stack.pop()
        if depth >= len(shape) or len(items) != shape[depth]:
            raise UserError(
                f"{where}: nested data does not match shape {shape_str(shape)}",
                "send data flat (row-major) or nested exactly to the shape",
            )
        if depth == len(shape) - 1:
            if any(isinstance(v, list) for v in items):
                raise UserError(f"{where}: data is nested deeper than shape {shape_str(shape)}")
            flat.extend(items)
        else:
            if not all(isinstance(v, list) for v in items):
                raise UserError(f"{where}: nested data does not match shape {shape_str(shape)}")
            stack.extend((v, depth + 1) for v in reversed(items))
    return flat


def _typed_array(flat: list, datatype: str, where: str) -> np.ndarray:
    """numpy array of `datatype` from JSON scalars, refusing anything that would need a lossy cast."""
    dtype = DATATYPES[datatype]
    if datatype == "BOOL":
        if not all(type(v) is bool for v in flat):
            raise UserError(f"{where}: datatype BOOL expects JSON true/false values")
        return np.array(flat, dtype=np.bool_)
    if datatype == "BYTES":
        if not all(type(v) is str for v in flat):
            raise UserError(f"{where}: datatype BYTES expects JSON strings")
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out
    if datatype in _INT_TYPES:
        if not all(type(v) is int for v in flat):
            raise UserError(f"{where}: datatype {datatype} expects JSON integers")
        info = np.iinfo(dtype)
        if flat and (min(flat) < info.min or max(flat) > info.max):
            raise UserError(f"{where}: values must lie in [{info.min}, {info.max}] for {datatype}")
        return np.array(flat, dtype=dtype)
    # Floats: JSON ints are fine (1 is a valid FP32), booleans are not (they are a different type).
    if not all(type(v) is float or type(v) is int for v in flat):
        raise UserError(f"{where}: datatype {datatype} expects JSON numbers")
    try:
        wide = np.array(flat, dtype=np.float64)
    except OverflowError:  # an int beyond float64's range
        raise UserError(f"{where}: a value is out of range for {datatype}") from None
    if not np.isfinite(wide).all():
        raise UserError(f"{where}: values must be finite numbers (no NaN or Infinity)")
    limit = np.finfo(dtype).max
    if wide.size and np.abs(wide).max() > limit:
        raise UserError(f"{where}: values must lie within ±{float(limit):.6g} for {datatype}")
    return wide.astype(dtype)


def decode_input(tensor: RequestInput, spec: TensorSpec, blob: bytes | None = None) -> np.ndarray:
    """The request tensor as a numpy array, checked against the model's declared spec.

    blob: the tensor's raw bytes when it came as binary data (binary.py), else None.
    """
    where = f"input '{tensor.name}'"
    if tensor.datatype != spec.datatype:
        raise UserError(f"{where}: expected datatype {spec.datatype}, got {tensor.datatype}")
    if len(tensor.shape) != len(spec.shape) or any(
        want != -1 and got != want for got, want in zip(tensor.shape, spec.shape)
    ):
        raise UserError(
            f"{where}: expected shape {shape_str(spec.shape)} (-1 = any size), "
            f"got {shape_str(tensor.shape)}"
        )
    count = math.prod(tensor.shape)
    if count == 0:
        raise UserError(f"{where}: shape {shape_str(tensor.shape)} holds no elements; send at least one")
    if blob is not None:
        return binary.decode(blob, tensor.datatype, count, where, raw=spec.binary).reshape(tensor.shape)
    if tensor.data is None:
        raise UserError(f"{where}: no data; send \"data\" or the tensor as binary (binary_data_size)")
    flat = _flatten(tensor.data, tensor.shape, where)
    if len(flat) != count:
        raise UserError(
            f"{where}: shape {shape_str(tensor.shape)} needs {count} values, data has {len(flat)}"
        )
    return _typed_array(flat, tensor.datatype, where).reshape(tensor.shape)


def encode_output(name: str, array: np.ndarray, spec: TensorSpec, as_binary: bool = False) -> tuple[dict[str, Any], bytes]:
    """A response output object (spec: $response_output) with flat row-major data, or, as_binary,
    the object with "binary_data_size" and the raw bytes that follow the JSON."""
    array = np.asarray(array)
    if as_binary:
        if spec.datatype != "BYTES":
            array = array.astype(DATATYPES[spec.datatype], copy=False)
        blob = binary.encode(array, spec.datatype)
        entry = {"name": name, "shape": list(array.shape), "datatype": spec.datatype,
                 "parameters": {"binary_data_size": len(blob)}}
        return entry, blob
    if spec.datatype == "BYTES" and spec.binary:  # files (audio): base64 text, as JSON carries no raw bytes
        data = [base64.b64encode(v if isinstance(v, (bytes, bytearray)) else str(v).encode()).decode("ascii")
                for v in array.reshape(-1).tolist()]
    elif spec.datatype == "BYTES":
        # bytes are sent as text; undecodable bytes become U+FFFD rather than failing the request.
        data = [
            v.decode("utf-8", errors="replace") if isinstance(v, (bytes, bytearray)) else str(v)
            for v in array.reshape(-1).tolist()
        ]
    else:
        array = array.astype(DATATYPES[spec.datatype], copy=False)
        data = array.reshape(-1).tolist()
        # JSON has no NaN/Infinity; null keeps the response valid, and numpy reads null back as nan.
        if spec.datatype in _FLOAT_TYPES and not np.isfinite(array).all():
            data = [v if math.isfinite(v) else None for v in data]
    return {"name": name, "shape": list(array.shape), "datatype": spec.datatype, "data": data}, b""
