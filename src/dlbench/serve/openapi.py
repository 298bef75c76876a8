"""/openapi.json as the server really behaves, so generated clients and fuzzers see the truth.

FastAPI builds the schema from the routes; three things are fixed up here:
- the inference request body: parsed by the handler (protocol.parse_request), not declared as a
  FastAPI parameter, so its schema and per-model examples are added here;
- FastAPI's generic 422 goes: invalid requests get a 400 with the protocol's {"error": ...}
  (documented through http_errors.ERROR_RESPONSES);
- with keys on, the API key schemes are declared. Only declared: AuthMiddleware checks the key
  before the body is read; FastAPI security dependencies would document it too, but would also
  run on every request for nothing.
"""

from __future__ import annotations

import math

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dlbench.serve.limits import PUBLIC_PATHS
from dlbench.serve.protocol import InferenceRequest

_REF = "#/components/schemas/{model}"


def example_request(inputs) -> dict:
    """A valid request for a model with these input TensorSpecs (tried first by fuzzers, too)."""
    fill = {"BOOL": False, "BYTES": "hello world"}
    tensors = []
    for s in inputs:
        shape = [1 if d == -1 else d for d in s.shape]
        # Integers are 1, not 0: counts and lengths of 0 are what models most often refuse.
        value = fill.get(s.datatype, 0.0 if s.datatype.startswith("FP") else 1)
        tensors.append({"name": s.name, "shape": shape, "datatype": s.datatype, "data": [value] * math.prod(shape)})
    return {"id": "example-1", "inputs": tensors}


def customize_openapi(app: FastAPI, models: dict, auth: bool) -> None:
    """models: name -> version -> Served (app.Registry.models)."""
    examples = {
        f"{name} v{version}": {
            "summary": f"request for model '{name}' version {version}",
            "value": example_request(served.inputs.values()),
        }
        for name, versions in models.items()
        for version, served in versions.items()
    }

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        request_schema = InferenceRequest.model_json_schema(ref_template=_REF)
        schemas.update(request_schema.pop("$defs", {}))
        schemas["InferenceRequest"] = request_schema
        if auth:
            schema["components"]["securitySchemes"] = {
                "HTTPBearer": {"type": "http", "scheme": "bearer"},
                "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        for path, operations in schema["paths"].items():
            for method, op in operations.items():
                op.get("responses", {}).pop("422", None)
                if method == "post" and path.endswith("/infer"):
                    op["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {
                            "schema": {"$ref": _REF.format(model="InferenceRequest")}, "examples": examples,
                        }},
                    }
                if auth and path not in PUBLIC_PATHS:
                    op["security"] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
