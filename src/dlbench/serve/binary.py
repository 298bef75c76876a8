"""Triton's binary tensor data extension: raw little-endian tensors after the JSON header.

tritonclient sends and asks for binary tensors by default (`set_data_from_numpy(...,
binary_data=True)`, `InferRequestedOutput(..., binary_data=True)`), so supporting it is what lets
that client work unchanged; it is also far cheaper than JSON lists of floats.

Wire format: the body is the JSON inference request (its length in the
`Inference-Header-Content-Length` header) followed by the inputs' bytes, in input order, each
input announcing its size with the parameter "binary_data_size". BOOL is one byte 0/1; BYTES is a
4-byte little-endian length then the bytes, per element. Outputs are sent the same way when an
output asks with "binary_data": true, or the request with "binary_data_output": true.
"""

from __future__ import annotations

import json
import struct

import numpy as np
from fastapi.responses import Response

from dlbench.errors import UserError
from dlbench.serve.predictor import DATATYPES
from dlbench.serve.protocol import InferenceRequest, parse_request

HEADER = "inference-header-content-length"
EXTENSION = "binary_tensor_data"
# Protocol parameters, not the model's: removed before `predict` sees the request parameters.
PROTOCOL_PARAMETERS = frozenset({"binary_data_output"})


def read_request(raw: bytes, header: str | None) -> tuple[InferenceRequest, dict[str, bytes]]:
    """The JSON request and, per binary input name, its raw bytes."""
    if header is None:
        request, tail = parse_request(raw), b""
    else:
        try:
            size = int(header)
        except ValueError:
            size = -1
        if not 0 <= size <= len(raw):
            raise UserError(
                f"Inference-Header-Content-Length must be an integer between 0 and the body size ({len(raw)})"
            )
        request, tail = parse_request(raw[:size]), raw[size:]
    blobs: dict[str, bytes] = {}
    offset = 0
    for tensor in request.inputs:
        size = (tensor.parameters or {}).get("binary_data_size")
        if size is None:
            continue
        if type(size) is not int or size < 0:
            raise UserError(f"input '{tensor.name}': binary_data_size must be a non-negative integer")
        if offset + size > len(tail):
            raise UserError(
                f"input '{tensor.name}': binary_data_size {size} runs past the end of the body; "
                "send the JSON length in the Inference-Header-Content-Length header"
            )
        blobs[tensor.name] = tail[offset : offset + size]
        offset += size
    if offset != len(tail):
        raise UserError(f"{len(tail) - offset} bytes after the binary tensors belong to no input")
    return request, blobs


def decode(blob: bytes, datatype: str, count: int, where: str, raw: bool = False) -> np.ndarray:
    """A flat array of `count` elements from one input's bytes; raw: BYTES elements stay bytes (files)."""
    if datatype == "BYTES":
        items, pos = [], 0
        while pos < len(blob):
            if pos + 4 > len(blob):
                raise UserError(f"{where}: BYTES data ends inside a 4-byte length prefix")
            (n,) = struct.unpack_from("<I", blob, pos)
            if pos + 4 + n > len(blob):
                raise UserError(f"{where}: a BYTES element is longer than the data sent")
            try:
                item = blob[pos + 4 : pos + 4 + n]
                items.append(item if raw else item.decode("utf-8"))
            except UnicodeDecodeError:
                raise UserError(f"{where}: BYTES elements must be UTF-8 text") from None
            pos += 4 + n
        if len(items) != count:
            raise UserError(f"{where}: shape needs {count} elements, binary data has {len(items)}")
        out = np.empty(count, dtype=object)
        out[:] = items
        return out
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    if len(blob) != count * dtype.itemsize:
        raise UserError(f"{where}: shape needs {count * dtype.itemsize} bytes of {datatype}, got {len(blob)}")
    if datatype == "BOOL":
        raw = np.frombuffer(blob, dtype=np.uint8)
        if (raw > 1).any():
            raise UserError(f"{where}: BOOL bytes must be 0 or 1")
        return raw.astype(np.bool_)
    array = np.frombuffer(blob, dtype=dtype).astype(dtype.newbyteorder("="))  # a writable, native copy
    if datatype.startswith("FP") and not np.isfinite(array).all():
        raise UserError(f"{where}: values must be finite numbers (no NaN or Infinity)")
    return array


def encode(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in array.reshape(-1).tolist():
            b = v if isinstance(v, (bytes, bytearray)) else str(v).encode("utf-8")
            parts.append(struct.pack("<I", len(b)) + bytes(b))
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=np.dtype(DATATYPES[datatype]).newbyteorder("<")).tobytes()


def binary_outputs(request: InferenceRequest, names: list[str]) -> set[str]:
    """Which of the outputs `names` go back as binary data."""
    default = (request.parameters or {}).get("binary_data_output") is True
    asked = {o.name: (o.parameters or {}).get("binary_data") for o in request.outputs or []}
    chosen = set()
    for n in names:
        flag = asked.get(n)  # an output's own "binary_data" overrides the request-wide default
        if flag is True or (flag is None and default):
            chosen.add(n)
    return chosen


def response(header: dict, blobs: list[bytes]) -> Response:
    head = json.dumps(header, separators=(",", ":")).encode()
    return Response(
        head + b"".join(blobs), media_type="application/octet-stream", headers={HEADER: str(len(head))}
    )
