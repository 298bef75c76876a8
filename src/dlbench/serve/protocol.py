"""Open Inference Protocol (KServe v2 / Triton "predict protocol version 2") REST bodies.

These pydantic models are the wire format. FastAPI validates requests against them and builds
/openapi.json from them, so the schema a client (or a fuzzer) sees is the one we enforce.
Field names and shapes follow the spec exactly so tritonclient's and KServe's HTTP clients work.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError
from typing_extensions import Annotated, TypeAliasType

from dlbench.errors import UserError

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]

# Parameter values are a string, number or boolean (spec: $parameters). Strict types keep JSON
# `true` a bool and `1` an int instead of letting pydantic coerce one into the other.
ParameterValue = Union[StrictBool, StrictInt, StrictFloat, StrictStr]
Parameters = dict[str, ParameterValue]

# Tensor data: row-major, flat or nested to the tensor's natural shape. Element types are kept
# exactly as sent (strict) so that tensors.py can reject, say, 1.5 for an INT64 input instead of
# silently truncating it.
TensorData = TypeAliasType(
    "TensorData",
    list[Union[StrictBool, StrictInt, StrictFloat, StrictStr, "TensorData"]],  # type: ignore[misc]
)

# Each dimension must fit an unsigned 64-bit integer (spec); a request dimension is never -1.
Dim = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Strict(BaseModel):
    # Unknown fields are ignored, not rejected: clients add their own (tritonclient sends
    # "parameters" keys we do not use) and the spec says nothing against it.
    model_config = ConfigDict(extra="ignore")


class ErrorResponse(_Strict):
    error: str = Field(description="What was wrong and what was expected instead.")


class ServerMetadata(_Strict):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(_Strict):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1 marks a variable-size dimension (the batch, for one).")


class ModelMetadata(_Strict):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class RequestInput(_Strict):
    name: str
    shape: list[Dim]
    datatype: Datatype
    parameters: Parameters | None = None
    data: TensorData | None = Field(
        default=None, description="Required unless sent as binary (parameter binary_data_size)."
    )


class RequestOutput(_Strict):
    name: str
    parameters: Parameters | None = None


class InferenceRequest(_Strict):
    id: str | None = Field(default=None, description="Echoed in the response.")
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = Field(
        default=None, description="Outputs to return; all of the model's outputs when omitted."
    )


class ResponseOutput(_Strict):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: Parameters | None = None
    data: TensorData | None = Field(
        default=None, description="Flat, row-major; non-finite floats as null. Absent when sent as binary."
    )


class InferenceResponse(_Strict):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


def parse_request(body: bytes) -> InferenceRequest:
    """The inference request in `body`, or a UserError (HTTP 400) saying what is wrong with it.

    pydantic parses the JSON itself (one pass, in Rust, with its own nesting limit, so a deeply
    nested body cannot exhaust the Python stack) and applies the strict types above.
    """
    try:
        return InferenceRequest.model_validate_json(body)
    except ValidationError as e:
        raise UserError(validation_message(e.errors(include_url=False))) from None


_DATA_HINT = "expected an array (flat or nested) of numbers, booleans or strings"


def _where(loc: tuple) -> str:
    """'inputs.0.shape' from pydantic's loc, minus the 'body' prefix and union-member tags."""
    parts: list[str] = []
    for p in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(p, int) or (isinstance(p, str) and p.isidentifier() and p not in {"bool", "int", "float", "str"}):
            parts.append(str(p))
        else:
            break  # past here pydantic names union branches ('list[...]'), not fields
        if p == "data":
            break  # data errors arrive once per union branch; one line says it all
    return ".".join(parts) or "body"


def validation_message(errors: list[dict]) -> str:
    lines: dict[str, str] = {}
    for e in errors:
        if e.get("type") in ("json_invalid", "json_type"):
            ctx = (e.get("ctx") or {}).get("error", "")
            return f"request body is not valid JSON ({ctx or e.get('msg')}); expected an inference request object"
        where = _where(tuple(e.get("loc", ())))
        if where == "body" and e.get("type") != "missing":
            return 'request body must be a JSON object like {"inputs": [...]}'
        if where.endswith("data") or ".data" in where:
            msg = _DATA_HINT
        elif e.get("type") == "missing":
            msg = "field required"
        else:
            msg = e.get("msg", "invalid")
        lines.setdefault(where, msg)
    shown = [f"{k}: {v}" for k, v in list(lines.items())[:3]]
    more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
    return "invalid inference request: " + "; ".join(shown) + more


