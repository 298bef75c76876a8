"""Open Inference Protocol (KServe v2 / Triton "predict protocol version 2") REST bodies.

These pydantic models are the wire format. FastAPI validates requests against them and builds
/openapi.json from them, so the schema a client (or a fuzzer) sees is the one we enforce.
Field names and shapes follow the spec exactly so tritonclient's and KServe's HTTP clients work.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from typing_extensions import Annotated, TypeAliasType

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
    data: TensorData


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
    data: TensorData = Field(description="Flat, row-major; non-finite floats are sent as null.")


class InferenceResponse(_Strict):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]
