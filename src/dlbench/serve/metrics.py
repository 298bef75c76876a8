"""Prometheus metrics and the JSON access log, both fed by one ASGI middleware.

Each app gets its own CollectorRegistry, so tests (and a process serving two apps) never collide
on metric names. Label values are bounded: `model` is a served model's name or "" and `endpoint`
is one of a fixed set, so a client probing random URLs cannot grow the metric set without bound.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dlbench.serve.logs import clip

access_log = logging.getLogger("dlbench.serve.access")

_ENDPOINTS = [
    (re.compile(r"^/v2/health/(live|ready)$"), "health"),
    (re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/ready$"), "model_ready"),
    (re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$"), "infer"),
    (re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/generate(_stream)?$"), "generate"),
    (re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?$"), "model_metadata"),
    (re.compile(r"^/v2/?$"), "server_metadata"),
    (re.compile(r"^/v2/repository/"), "repository"),
    (re.compile(r"^/metrics$"), "metrics"),
    (re.compile(r"^/openapi\.json$"), "openapi"),
]


_MODEL_IN_PATH = re.compile(r"^/v2/models/([^/]+)")


def endpoint_of(path: str) -> str:
    for pattern, name in _ENDPOINTS:
        if pattern.match(path):
            return name
    return "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dlbench_requests", "HTTP requests answered", ["model", "endpoint", "code"], registry=self.registry
        )
        self.errors = Counter(
            "dlbench_request_errors", "HTTP requests answered with status >= 400", ["model", "endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dlbench_request_latency_seconds", "Time from request start to response end", ["model", "endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "dlbench_batch_size", "Rows per predict call", ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=self.registry,
        )
        # Model time alone: next to request latency it tells whether the model or the HTTP/JSON
        # work around it is the bottleneck (and so whether bigger batches can help).
        self.predict_seconds = Histogram(
            "dlbench_predict_seconds", "Time inside predict() per batch", ["model"],
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "dlbench_queue_depth", "Requests waiting for a batch", ["model"], registry=self.registry
        )
        # Fed by connections.py: connections the server closed or refused to protect itself, by
        # reason (a fixed set). They never reach the app, so the request metrics do not see them.
        self.connections_closed = Counter(
            "dlbench_connections_closed", "Connections closed or refused by the server's limits", ["reason"],
            registry=self.registry,
        )
        self.open_connections = Gauge("dlbench_open_connections", "Open client connections", registry=self.registry)

    def connection_closed(self, reason: str) -> None:
        self.connections_closed.labels(reason).inc()

    def observe_batch(self, model: str):
        """The Batcher's on_batch callback for `model` (called from its predict thread)."""
        rows, seconds = self.batch_size.labels(model), self.predict_seconds.labels(model)

        def observe(n: int, elapsed: float) -> None:
            rows.observe(n)
            seconds.observe(elapsed)

        return observe


class AccessLogMiddleware:
    """Outermost ASGI middleware: one JSON log line and the request metrics for every request.

    The model comes from the path (only names actually served, to bound label values); the infer
    handler leaves `version` and `batch_size` in scope["state"] (shared with `request.state`).
    Nothing from the headers is logged, so an API key can never reach the log, and the path is
    clipped (logs.clip), so a megabyte-long URL is not a megabyte-long line.
    """

    def __init__(self, app, metrics: Metrics, models: set[str]):
        self.app = app
        self.metrics = metrics
        self.models = models

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        state = scope.setdefault("state", {})
        status = None
        returned = False

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
            returned = True
        finally:
            if status is None:
                # Nothing sent: the client left before its answer (nginx's 499, not our failure),
                # or the app died, which uvicorn answers with a 500.
                status = 499 if returned else 500
            elapsed = time.perf_counter() - start
            found = _MODEL_IN_PATH.match(scope.get("path", ""))
            model = found.group(1) if found and found.group(1) in self.models else ""
            endpoint = endpoint_of(scope.get("path", ""))
            code = str(status)
            self.metrics.requests.labels(model, endpoint, code).inc()
            if status >= 400:
                self.metrics.errors.labels(model, endpoint, code).inc()
            self.metrics.latency.labels(model, endpoint).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):  # skip building the line nobody will read
                self._log(scope, state, model, status, elapsed)

    @staticmethod
    def _log(scope, state, model: str, status: int, elapsed: float) -> None:
        client = scope.get("client")
        access_log.info(
            json.dumps(
                {
                    "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                    "method": clip(scope.get("method") or ""),
                    "path": clip(scope.get("path") or ""),
                    "model": model or None,
                    "version": state.get("version"),
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                    "batch_size": state.get("batch_size"),
                    "client": client[0] if client else None,
                }
            )
        )
