"""The Open Inference Protocol (v2) REST app: health, metadata and inference for served predictors.

create_app() wires the pieces: the model registry (name -> versions -> predictor + batcher), the
routes, the error mapping (http_errors.py) and the ASGI guards (limits.py) around them.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from dlbench.errors import UserError
from dlbench.serve import binary, repository
from dlbench.serve.audit import AuditLog
from dlbench.serve.auth import KeyVerifier, default_keys_path
from dlbench.serve.batching import Batcher
from dlbench.serve.generate import check_limits as check_generation_limits
from dlbench.serve.generate import router as generate_router
from dlbench.serve.drift import Monitoring
from dlbench.serve.http_errors import ERROR_RESPONSES, InternalErrorMiddleware, install_error_handlers
from dlbench.serve.limits import AuthMiddleware, BodyLimitMiddleware, NoManagementMiddleware
from dlbench.serve.metrics import AccessLogMiddleware, Metrics
from dlbench.serve.openapi import customize_openapi
from dlbench.serve.predictor import Predictor, TensorSpec
from dlbench.serve.routing import Routing
from dlbench.serve.protocol import InferenceRequest, InferenceResponse, ModelMetadata, ServerMetadata
from dlbench.serve.settings import ServeSettings
from dlbench.serve.tensors import decode_input, encode_output, shape_str

log = logging.getLogger("dlbench.serve")

SERVER_NAME = "dlbench"
EXTENSIONS: list[str] = [binary.EXTENSION, repository.EXTENSION]


def _server_version() -> str:
    try:
        from importlib.metadata import version

        return version("dlbench")
    except Exception:  # noqa: BLE001 - running from a source tree that was never installed
        return "0+unknown"


def _version_key(v: str) -> tuple:
    # "10" is later than "9": numeric versions compare as numbers, others as text, numbers last.
    return (1, int(v), "") if v.isdigit() else (0, 0, v)


def _describe(specs: list[TensorSpec]) -> str:
    return ", ".join(f"{s.name} ({s.datatype} {shape_str(s.shape)})" for s in specs) or "none"


@dataclass
class Served:
    """One (name, version) being served."""

    predictor: Predictor
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    batcher: Batcher


class Registry:
    def __init__(self, predictors: list[Predictor], settings: ServeSettings, metrics: Metrics,
                 monitoring: Monitoring | None = None):
        self.models: dict[str, dict[str, Served]] = {}
        self.settings, self.metrics = settings, metrics
        self.monitoring = monitoring  # drift.py: each version is monitored from the moment it is served
        self.routing = Routing(metrics.registry)  # which version answers the unversioned URL (routing.py)
        for p in predictors:
            versions = self.models.setdefault(p.name, {})
            if str(p.version) in versions:
                raise UserError(f"model '{p.name}' version {p.version} is given twice", "serve each run once")
            versions[str(p.version)] = self.serve(p)

    def serve(self, p: Predictor) -> Served:
        """A predictor with its batcher, ready to be put in `models` (at start, or by repository.py)."""
        inputs, outputs = list(p.inputs()), list(p.outputs())
        if p.batchable:
            for s in inputs + outputs:
                if not s.shape or s.shape[0] != -1:
                    raise ValueError(f"batchable model '{p.name}': tensor '{s.name}' needs -1 as first dim")
        if self.monitoring is not None:
            self.monitoring.attach(p)  # a damaged reference profile refuses the version (UserError)
        settings, metrics = self.settings, self.metrics
        depth = metrics.queue_depth.labels(p.name)
        batcher = Batcher(
            p, settings.max_batch_size, settings.max_batch_delay_ms, settings.max_queue,
            settings.request_timeout_s,
            on_batch=metrics.observe_batch(p.name), on_depth=depth.set,
        )
        return Served(p, {s.name: s for s in inputs}, {s.name: s for s in outputs}, batcher)

    def versions(self, name: str) -> list[str]:
        return sorted(self.models[name], key=_version_key)

    def resolve(self, name: str, version: str | None) -> tuple[Served, str]:
        """(what answers, route): the URL's version ("pinned"), else the routing's pick (default or canary)."""
        if version is not None or name not in self.models:
            return self.get(name, version), "pinned"
        picked, route = self.routing.pick(name, self.versions(name))
        return self.models[name][picked], route

    def get(self, name: str, version: str | None) -> Served:
        if name not in self.models:
            raise HTTPException(404, f"unknown model '{name}'; served models: {', '.join(sorted(self.models))}")
        if version is None:  # unversioned URL: the routing's default version, else the latest
            return self.models[name][self.routing.route(name).default or self.versions(name)[-1]]
        if version not in self.models[name]:
            raise HTTPException(
                404, f"model '{name}' has no version '{version}'; available: {', '.join(self.versions(name))}"
            )
        return self.models[name][version]

    async def submit(self, name: str, version: str, arrays, parameters):
        """The batcher call of one (name, version), for shadow copies."""
        return await self.get(name, version).batcher.submit(arrays, parameters)

    def all(self) -> list[Served]:
        return [s for versions in self.models.values() for s in versions.values()]


def _check_inputs(served: Served, body: InferenceRequest, blobs: dict[str, bytes]) -> dict[str, np.ndarray]:
    name = served.predictor.name
    arrays: dict[str, np.ndarray] = {}
    for tensor in body.inputs:
        spec = served.inputs.get(tensor.name)
        if spec is None:
            raise UserError(f"model '{name}' has no input '{tensor.name}'; expected inputs: {_describe(list(served.inputs.values()))}")
        if tensor.name in arrays:
            raise UserError(f"input '{tensor.name}' is given twice")
        arrays[tensor.name] = decode_input(tensor, spec, blobs.get(tensor.name))
    missing = [s for n, s in served.inputs.items() if n not in arrays and not s.optional]
    if missing:
        raise UserError(f"missing input(s) for model '{name}': {_describe(missing)}")
    if served.predictor.batchable and len({a.shape[0] for a in arrays.values()}) > 1:
        sizes = ", ".join(f"{k}: {a.shape[0]}" for k, a in arrays.items())
        raise UserError(f"all inputs must have the same batch size (first dimension); got {sizes}")
    return arrays


def _requested_outputs(served: Served, body: InferenceRequest) -> list[str]:
    if not body.outputs:
        return list(served.outputs)
    names = list(dict.fromkeys(o.name for o in body.outputs))  # dedupe, keep the client's order
    unknown = [n for n in names if n not in served.outputs]
    if unknown:
        raise UserError(
            f"model '{served.predictor.name}' has no output(s) {', '.join(map(repr, unknown))}; "
            f"available outputs: {', '.join(served.outputs)}"
        )
    return names


def _add_routes(app: FastAPI, registry: Registry, metrics: Metrics) -> None:
    # Routes go straight on the app: FastAPI's router matching costs per nesting level, and
    # at hundreds of requests a second that showed up in profiles.
    protected = {"responses": ERROR_RESPONSES}

    @app.get("/v2/health/live", response_class=Response, tags=["health"], summary="Server live")
    async def live() -> Response:
        return Response(status_code=200)

    @app.get("/v2/health/ready", response_class=Response, tags=["health"], summary="Server ready",
                responses={503: {"description": "shutting down"}})
    async def ready(request: Request) -> Response:
        return Response(status_code=503 if request.app.state.closing else 200)

    @app.get(**protected, path="/v2", response_model=ServerMetadata, tags=["metadata"], summary="Server metadata")
    async def server_metadata() -> ServerMetadata:
        return ServerMetadata(name=SERVER_NAME, version=_server_version(), extensions=EXTENSIONS)

    def metadata(request: Request, name: str, version: str | None) -> ModelMetadata:
        served = registry.get(name, version)
        p = served.predictor
        tensor = lambda s: {"name": s.name, "datatype": s.datatype, "shape": list(s.shape)}  # noqa: E731
        return ModelMetadata(
            name=p.name, versions=registry.versions(name), platform=p.platform,
            inputs=[tensor(s) for s in served.inputs.values()],
            outputs=[tensor(s) for s in served.outputs.values()],
        )

    @app.get(**protected, path="/v2/models/{name}", response_model=ModelMetadata, tags=["metadata"], summary="Model metadata")
    async def model_metadata(request: Request, name: str) -> ModelMetadata:
        return metadata(request, name, None)

    @app.get(**protected, path="/v2/models/{name}/versions/{version}", response_model=ModelMetadata, tags=["metadata"],
                summary="Model version metadata")
    async def model_version_metadata(request: Request, name: str, version: str) -> ModelMetadata:
        return metadata(request, name, version)

    @app.get(**protected, path="/v2/models/{name}/ready", response_class=Response, tags=["health"], summary="Model ready")
    async def model_ready(request: Request, name: str) -> Response:
        registry.get(name, None)
        return Response(status_code=200)

    @app.get(**protected, path="/v2/models/{name}/versions/{version}/ready", response_class=Response, tags=["health"],
                summary="Model version ready")
    async def model_version_ready(request: Request, name: str, version: str) -> Response:
        registry.get(name, version)
        return Response(status_code=200)

    async def infer(request: Request, name: str, version: str | None) -> Response:
        body, blobs = binary.read_request(await request.body(), request.headers.get(binary.HEADER))
        # Resolved after the body is read: from here to the batcher's queue nothing awaits, so a version
        # swapped meanwhile (repository.py) never hands this request to a batcher that is draining.
        served, route = registry.resolve(name, version)
        request.state.version = served.predictor.version
        arrays = _check_inputs(served, body, blobs)
        wanted = _requested_outputs(served, body)
        parameters = {k: v for k, v in (body.parameters or {}).items() if k not in binary.PROTOCOL_PARAMETERS}
        if hasattr(served.predictor, "options") and "text_input" in arrays:  # a text generator: its limits too
            check_generation_limits(request.app.state.settings, parameters, np.asarray(arrays["text_input"]).reshape(-1))
        started = time.perf_counter()
        outputs, batch_size = await served.batcher.submit(arrays, parameters)
        registry.routing.answered(name, served.predictor.version, route, time.perf_counter() - started)
        if route != "pinned":  # a copy for the shadow version, if any: compared and logged, never returned
            registry.routing.shadow_copy(name, served.predictor.version, registry.submit, arrays, parameters, outputs)
        request.state.batch_size = batch_size
        missing = [n for n in wanted if n not in outputs]
        if missing:  # the predictor broke its own metadata: our bug, not the client's
            raise RuntimeError(f"model '{name}' did not produce output(s) {missing}")
        as_binary = binary.binary_outputs(body, wanted)
        encoded = [encode_output(n, outputs[n], served.outputs[n], n in as_binary) for n in wanted]
        response = {"model_name": name, "model_version": served.predictor.version, "outputs": [e for e, _ in encoded]}
        if body.id is not None:
            response["id"] = body.id
        flags = request.app.state.monitoring.observe(served.predictor, arrays, outputs, body.id)  # drift.py
        if flags:
            response["parameters"] = flags
        if as_binary:
            return binary.response(response, [blob for _, blob in encoded])
        # Built by hand and returned as a Response: re-validating thousands of floats through
        # the response model would cost more than the model itself for small networks.
        return JSONResponse(response)

    # The body is read by binary.read_request, not declared as a FastAPI parameter: it may carry
    # binary tensors after the JSON, pydantic's JSON parser does the JSON in one pass (no
    # json.loads first), and any Content-Type is accepted (tritonclient sends none for JSON).
    # openapi.py documents the JSON part.
    @app.post(**protected, path="/v2/models/{name}/infer", response_model=InferenceResponse, tags=["inference"], summary="Infer")
    async def model_infer(request: Request, name: str) -> Response:
        return await infer(request, name, None)

    @app.post(**protected, path="/v2/models/{name}/versions/{version}/infer", response_model=InferenceResponse,
                 tags=["inference"], summary="Infer with a model version")
    async def model_version_infer(request: Request, name: str, version: str) -> Response:
        return await infer(request, name, version)

    @app.get(**protected, path="/metrics", response_class=Response, tags=["monitoring"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        for served in registry.all():
            metrics.queue_depth.labels(served.predictor.name).set(served.batcher.depth())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)



def create_app(predictors: list[Predictor], settings: ServeSettings) -> FastAPI:
    """The ASGI app serving `predictors` (several may share a name with different versions)."""
    if not predictors:
        raise UserError("no models to serve", "give at least one run directory")
    metrics = Metrics()
    monitoring = Monitoring(settings, metrics.registry)  # drift gauges
    registry = Registry(predictors, settings, metrics, monitoring)
    verifier = None if settings.no_auth else KeyVerifier(settings.api_keys_path or default_keys_path())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.closing = False
        for line in monitoring.status():
            log.info("%s", line)
        yield
        # uvicorn has stopped accepting connections and waited for in-flight requests; the
        # batchers now finish anything still queued, then stop their workers.
        app.state.closing = True
        for served in registry.all():
            await served.batcher.close(drain_s=settings.request_timeout_s)
        monitoring.close()

    app = FastAPI(
        title="dlbench inference server",
        description="Open Inference Protocol (KServe v2) REST API.",
        version=_server_version(),
        lifespan=lifespan,
        docs_url=None,  # the Swagger page loads its JS from a CDN; /openapi.json is the contract
        redoc_url=None,
    )
    app.state.closing = False
    _add_routes(app, registry, metrics)
    app.include_router(generate_router)  # the generate extension for language models (serve/generate.py)
    app.include_router(repository.router, responses=ERROR_RESPONSES)  # model management (admin keys only)
    customize_openapi(app, registry.models, auth=verifier is not None)
    install_error_handlers(app)
    # Starlette wraps in reverse order: the access log sees everything (500s included), auth runs
    # before a byte of the body is read, and the body limits before FastAPI parses it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    audit = AuditLog(settings.audit_log)
    if verifier is not None:
        app.add_middleware(AuthMiddleware, verifier=verifier, audit=audit)
    else:  # without keys nobody can be told apart: model management stays off
        app.add_middleware(NoManagementMiddleware)
    app.add_middleware(InternalErrorMiddleware)
    # registry.models itself, not a copy: models loaded at run time are labelled in the metrics too
    app.add_middleware(AccessLogMiddleware, metrics=metrics, models=registry.models)
    app.state.registry, app.state.metrics, app.state.settings = registry, metrics, settings
    app.state.monitoring = monitoring
    app.state.repository = repository.Repository(registry, settings, audit, settings.device)
    return app
