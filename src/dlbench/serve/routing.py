"""Which version answers a model's unversioned URL: promotion, rollback, canary and shadow traffic.

Per model name, a `Route`, changed at run time through the admin API (repository.py) and kept in
memory:

    default   the version that answers /v2/models/M/infer; None: the highest version (the behaviour
              without routing). Promotion sets it to the candidate, rollback sets it back.
    canary    a candidate version and the share of unversioned requests it answers (0 < % <= 100),
              drawn at random per request as Istio's and KServe's weighted routes do.
    shadow    a candidate that receives a copy of every unversioned request after the client has its
              answer: its outputs are compared with the answer and logged (logger dlbench.serve.shadow,
              one JSON line each), never returned. A failing or slow shadow never touches the client.

A versioned URL (/v2/models/M/versions/V/infer) always gets V: routing only decides for clients that
left the choice to the server. Per-version Prometheus metrics say which version answered how many
requests by which route, how fast, and how often the shadow agreed.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram

from dlbench.errors import UserError

shadow_log = logging.getLogger("dlbench.serve.shadow")
log = logging.getLogger("dlbench.serve")

ROUTES = ("pinned", "default", "canary", "shadow")
"""How a version came to answer: the URL named it, the default, the canary draw, a shadow copy."""


@dataclass
class Route:
    default: str | None = None
    canary: str | None = None
    canary_percent: float = 0.0
    shadow: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def parse_route(body: dict, current: Route) -> Route:
    """A routing change from an admin request body: any of default, canary, canary_percent, shadow
    (null clears one); fields left out keep their current value. Shape errors are a UserError (400)."""
    if not isinstance(body, dict):
        raise UserError("the routing body must be a JSON object",
                        'e.g. {"default": "2"} or {"canary": "3", "canary_percent": 10} or {"shadow": "3"}')
    unknown = sorted(set(body) - set(Route.__dataclass_fields__))
    if unknown:
        raise UserError(f"unknown routing field(s) {', '.join(unknown)}",
                        "use default, canary, canary_percent, shadow")
    merged = {**current.to_json(), **body}
    for k in ("default", "canary", "shadow"):
        v = merged[k]
        if v is not None and not isinstance(v, (str, int)) or isinstance(v, bool):
            raise UserError(f"routing field '{k}' must be a version (a string) or null")
        merged[k] = None if v is None else str(v)
    pct = merged["canary_percent"]
    if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
        raise UserError(f"canary_percent must be a number from 0 to 100, got {pct!r}")
    if merged["canary"] is None:
        merged["canary_percent"] = 0.0
    elif "canary" in body and "canary_percent" not in body and not current.canary:
        raise UserError("a canary needs canary_percent: the share of unversioned requests it answers",
                        'e.g. {"canary": "3", "canary_percent": 10}')
    return Route(merged["default"], merged["canary"], float(merged["canary_percent"]), merged["shadow"])


class Routing:
    """The routes of every model, the per-version metrics, and the shadow copies."""

    def __init__(self, registry: CollectorRegistry, rng: random.Random | None = None):
        self.routes: dict[str, Route] = {}
        self.rng = rng or random.Random()
        self._tasks: set[asyncio.Task] = set()  # running shadow copies (held so they are not collected)
        self.requests = Counter("dlbench_version_requests", "Inference requests answered per model version and route",
                                ["model", "version", "route"], registry=registry)
        self.latency = Histogram("dlbench_version_latency_seconds", "Queue wait + predict per model version",
                                 ["model", "version", "route"],
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                                 registry=registry)
        self.shadow_rows = Counter("dlbench_shadow_rows", "Rows answered by a shadow version, by agreement with the "
                                   "answer returned", ["model", "version", "outcome"], registry=registry)
        self.shadow_errors = Counter("dlbench_shadow_errors", "Shadow copies that failed (never seen by clients)",
                                     ["model", "version"], registry=registry)

    def route(self, name: str) -> Route:
        return self.routes.get(name) or Route()

    def set(self, name: str, route: Route, versions: list[str], inputs_of) -> Route:
        """Install `route` for `name`, checking every version it names is served and takes the same inputs
        as the default (a canary or shadow that reads other tensors would fail the clients' requests)."""
        for field, v in (("default", route.default), ("canary", route.canary), ("shadow", route.shadow)):
            if v is not None and v not in versions:
                raise UserError(f"model '{name}' has no version '{v}' to make the {field}",
                                f"served versions: {', '.join(versions)}; load it first (POST "
                                f"/v2/repository/models/{name}/load)")
        base = route.default or versions[-1]
        if route.canary is not None and route.canary == base:
            raise UserError(f"model '{name}' version {route.canary} already answers the unversioned URL; a canary "
                            "needs another default", f'give the default too, e.g. {{"default": "{versions[0]}", '
                            f'"canary": "{route.canary}", "canary_percent": 10}}')
        for field, v in (("canary", route.canary), ("shadow", route.shadow)):
            if v is not None and inputs_of(v) != inputs_of(base):
                raise UserError(f"model '{name}' version {v} takes other inputs than version {base}; "
                                f"it cannot be the {field}", "route only between versions of the same inputs")
        if route == Route():
            self.routes.pop(name, None)
        else:
            self.routes[name] = route
        return route

    def forget(self, name: str, versions: list[str]) -> list[str]:
        """Clear the parts of `name`'s route that name versions no longer served; what was cleared."""
        r = self.routes.get(name)
        if r is None:
            return []
        cleared = []
        if r.default is not None and r.default not in versions:
            cleared.append(f"default {r.default}")
            r.default = None
        if r.canary is not None and r.canary not in versions:
            cleared.append(f"canary {r.canary}")
            r.canary, r.canary_percent = None, 0.0
        if r.shadow is not None and r.shadow not in versions:
            cleared.append(f"shadow {r.shadow}")
            r.shadow = None
        if r == Route():
            self.routes.pop(name, None)
        return cleared

    def pick(self, name: str, versions: list[str]) -> tuple[str, str]:
        """(version, route) for an unversioned request: the canary by its share, else the default."""
        r = self.routes.get(name)
        if r is None:
            return versions[-1], "default"
        if r.canary is not None and r.canary_percent > 0 and self.rng.random() * 100 < r.canary_percent:
            return r.canary, "canary"
        return (r.default or versions[-1]), "default"

    def answered(self, name: str, version: str, route: str, seconds: float) -> None:
        self.requests.labels(name, version, route).inc()
        self.latency.labels(name, version, route).observe(seconds)

    def shadow_copy(self, name: str, answered_by: str, submit, arrays: dict, parameters: dict, outputs: dict) -> None:
        """Send a copy of an answered unversioned request to the shadow version, if there is one;
        `submit(name, version, arrays, parameters)` is the batcher call. Returns at once."""
        r = self.routes.get(name)
        if r is None or r.shadow is None or r.shadow == answered_by:
            return
        task = asyncio.get_running_loop().create_task(
            self._shadow(name, r.shadow, answered_by, submit, arrays, parameters, outputs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shadow(self, name, version, answered_by, submit, arrays, parameters, outputs) -> None:
        t0 = time.perf_counter()
        try:
            theirs, _ = await submit(name, version, arrays, parameters)
        except Exception as e:  # noqa: BLE001 - whatever the shadow does, the client already has its answer
            self.shadow_errors.labels(name, version).inc()
            shadow_log.info(json.dumps({"time": _now(), "model": name, "answered_by": answered_by, "shadow": version,
                                        "error": f"{type(e).__name__}: {str(e)[:200]}"}))
            return
        self.answered(name, version, "shadow", time.perf_counter() - t0)
        rows, agree, diffs = compare_outputs(outputs, theirs)
        self.shadow_rows.labels(name, version, "agree").inc(agree)
        self.shadow_rows.labels(name, version, "differ").inc(rows - agree)
        shadow_log.info(json.dumps({"time": _now(), "model": name, "answered_by": answered_by, "shadow": version,
                                    "rows": rows, "agree": agree, "max_abs_diff": diffs}))


def compare_outputs(ours: dict, theirs: dict) -> tuple[int, int, dict]:
    """(rows, rows where the shadow agreed, max |difference| per float output).

    A row agrees when every discrete output (labels, texts) is equal; a model with only float outputs
    (regression, probabilities) agrees where they are within 1e-3 relative (numpy's isclose)."""
    common = [k for k in ours if k in theirs]
    if not common:
        return 0, 0, {}
    rows = int(np.shape(ours[common[0]])[0]) if np.ndim(ours[common[0]]) else 1
    discrete = [k for k in common if not np.issubdtype(np.asarray(ours[k]).dtype, np.floating)]
    diffs, ok = {}, np.ones(rows, dtype=bool)
    for k in common:
        a, b = np.asarray(ours[k]), np.asarray(theirs[k])
        if a.shape != b.shape:
            ok[:] = False
            continue
        if np.issubdtype(a.dtype, np.floating):
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
            diffs[k] = float(d.max()) if d.size else 0.0
            if not discrete:
                ok &= np.isclose(a, b, rtol=1e-3, atol=1e-6).reshape(rows, -1).all(axis=1)
        else:
            ok &= (a == b).reshape(rows, -1).all(axis=1)
    return rows, int(ok.sum()), diffs


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
