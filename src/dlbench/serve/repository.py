"""Live model management: Triton's model repository extension, and routing between versions.

    POST /v2/repository/index                     every model the server knows: name, version, state, reason
    POST /v2/repository/models/{m}/load           load or reload m (all its versions), verified first
    POST /v2/repository/models/{m}/unload         stop serving m; in-flight requests still get answers
    GET|POST /v2/repository/models/{m}/routing    (dlbench) default version, canary share, shadow (routing.py)

The first three are Triton's (docs: protocol/extension_model_repository.md), so tritonclient's
get_model_repository_index / load_model / unload_model drive them unchanged. What a model's versions
are, on load:
- `config` (tritonclient's load_model(config=...)): a JSON object {"versions": {"2": "runs/new", ...}}
  mapping each version to a run directory: the complete set of versions the model serves after the load;
- else the model repository (`--model-repository DIR`, Triton's layout DIR/<model>/<version>/ where each
  version directory is a run directory), re-read now;
- else the run directories the model was last served from, reloaded.

Every run is verified (run/load.py: hashes of model.json and the weights) and loaded off the event loop
before anything changes; any failure is a 400 naming it and the versions being served stay as they were.
The swap is one assignment; a version that is replaced or unloaded drains: its queued and running
requests are answered, then its worker stops. A version whose run directory and model.json are unchanged
keeps serving as it was (not reloaded), as Triton does. All calls need an admin key (auth.py) and are
written to the audit log (audit.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dlbench.errors import UserError
from dlbench.run.files import sha256_file
from dlbench.serve.logs import clip
from dlbench.serve.protocol import ErrorResponse
from dlbench.serve.routing import Route, parse_route

log = logging.getLogger("dlbench.serve")

EXTENSION = "model_repository"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

router = APIRouter(tags=["model repository"], responses={
    403: {"model": ErrorResponse,
          "description": "An inference key, or a server without keys: management needs an admin key"}})


def scan_repository(root: Path | str) -> dict[str, dict[str, Path]]:
    """A model repository directory in Triton's layout: model -> version -> run directory."""
    root, found = Path(root), {}
    if not root.is_dir():
        return found
    for model in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        versions = {v.name: v for v in model.iterdir() if v.is_dir() and _VERSION.match(v.name)}
        if versions:
            found[model.name] = versions
    return found


class Repository:
    """What the server knows beyond what it serves: where each version came from, what was unloaded or
    failed to load, and the repository directory."""

    def __init__(self, registry, settings, audit, device: str | None = None):
        self.registry, self.settings, self.audit, self.device = registry, settings, audit, device
        self.root = Path(settings.model_repository) if getattr(settings, "model_repository", None) else None
        self.sources: dict[str, dict[str, Path]] = {}  # name -> version -> run directory last served
        self.states: dict[str, tuple[str, str]] = {}  # name -> (state, reason) of a model not being served
        self.digests: dict[int, str | None] = {}  # id(Served) -> sha256 of the model.json it was loaded from
        self.lock = asyncio.Lock()  # one management change at a time
        for name, versions in registry.models.items():
            for version, served in versions.items():
                path = _run_path(served.predictor)
                if path is not None:
                    self.sources.setdefault(name, {})[version] = path
                    self.digests[id(served)] = _digest(path)

    # --- what there is ---------------------------------------------------------------------------------
    def scan(self) -> dict[str, dict[str, Path]]:
        return scan_repository(self.root) if self.root is not None else {}

    def index(self, ready_only: bool) -> list[dict]:
        from dlbench.serve.app import _version_key

        entries: dict[tuple[str, str], dict] = {}
        known = {name: dict(v) for name, v in self.sources.items()}
        for name, versions in self.scan().items():
            known.setdefault(name, {}).update(versions)
        for name, versions in known.items():
            for version in versions:
                state, reason = self.states.get(name, ("UNAVAILABLE", "not loaded"))
                entries[(name, version)] = {"name": name, "version": version, "state": state, "reason": reason}
        for name, versions in self.registry.models.items():
            for version in versions:
                entries[(name, version)] = {"name": name, "version": version, "state": "READY", "reason": ""}
        out = sorted(entries.values(), key=lambda e: (e["name"], _version_key(e["version"])))
        return [e for e in out if e["state"] == "READY"] if ready_only else out

    def targets(self, name: str, parameters: dict) -> dict[str, Path]:
        """The versions `name` serves after a load: from `config`, the repository, or where it came from."""
        files = [k for k in parameters if k.startswith("file:")]
        if files:
            raise UserError("dlbench loads run directories; model file uploads (file:...) are not supported",
                            'give {"versions": {"VERSION": "RUN_DIR"}} as config, or put the run in --model-repository')
        unknown = sorted(set(parameters) - {"config"})
        if unknown:
            raise UserError(f"unknown load parameter(s) {', '.join(unknown)}", "give config only")
        if "config" in parameters:
            return self._from_config(name, parameters["config"])
        repo = self.scan().get(name)
        if repo:
            return repo
        if name in self.sources:
            return dict(self.sources[name])
        where = f" in the model repository {self.root}" if self.root else ""
        raise UserError(f"unknown model '{name}'{where}",
                        'give its runs as config: {"versions": {"1": "runs/my-run"}}, or serve with '
                        "--model-repository DIR holding DIR/<model>/<version>/")

    def _from_config(self, name: str, config) -> dict[str, Path]:
        hint = 'config must be a JSON object {"versions": {"VERSION": "RUN_DIR", ...}}'
        try:
            doc = json.loads(config) if isinstance(config, str) else config
        except ValueError as e:
            raise UserError(f"load config of model '{name}' is not JSON ({e})", hint) from None
        versions = doc.get("versions") if isinstance(doc, dict) else None
        extra = sorted(set(doc) - {"versions", "name"}) if isinstance(doc, dict) else []
        if not isinstance(versions, dict) or not versions or extra:
            raise UserError(f"load config of model '{name}' is not of the form dlbench reads", hint)
        out = {}
        for v, path in versions.items():
            if not _VERSION.match(str(v)) or not isinstance(path, str) or not path:
                raise UserError(f"load config of model '{name}': version {clip(str(v))!r} -> {clip(repr(path))}",
                                "versions are 1-64 letters, digits, '_', '.', '-'; each names a run directory")
            out[str(v)] = Path(path)
        return out

    # --- changes ----------------------------------------------------------------------------------------
    async def load(self, name: str, parameters: dict) -> dict:
        """Load `name`'s target versions (all verified before any change) and swap them in; returns what changed."""
        from dlbench.serve.runs import load_predictor

        targets = self.targets(name, parameters)
        current = self.registry.models.get(name, {})
        new, loaded, kept = {}, [], []
        for version, path in sorted(targets.items()):
            served = current.get(version)
            if served is not None and _run_path(served.predictor) == path.resolve() \
                    and self.digests.get(id(served)) == _digest(path):
                new[version] = served  # unchanged: keeps serving, its queue untouched
                kept.append(version)
                continue
            if not path.is_dir():
                raise UserError(f"model '{name}' version {version}: run directory {path} not found")
            digest = _digest(path)
            predictor = await asyncio.to_thread(load_predictor, path, name, version, self.device)
            new[version] = self.registry.serve(predictor)
            self.digests[id(new[version])] = digest
            loaded.append(version)
        # The swap: one assignment, nothing awaited in between (see app.infer).
        self.registry.models[name] = new
        self.sources[name] = {v: Path(p).resolve() for v, p in targets.items()}
        self.states.pop(name, None)
        cleared = self.registry.routing.forget(name, list(new))
        retired = [s for v, s in current.items() if new.get(v) is not s]
        for s in retired:
            self.digests.pop(id(s), None)
        await self._drain(retired)
        return {"loaded": loaded, "kept": kept, "unloaded": sorted(v for v in current if v not in new),
                "routing_cleared": cleared}

    async def unload(self, name: str, parameters: dict | None = None) -> dict:
        unknown = sorted(set(parameters or {}) - {"unload_dependents"})  # dlbench models have no dependents
        if unknown:
            raise UserError(f"unknown unload parameter(s) {', '.join(unknown)}", "give unload_dependents only")
        if name not in self.registry.models:
            raise UserError(f"model '{name}' is not loaded",
                            f"loaded models: {', '.join(sorted(self.registry.models)) or 'none'}")
        current = self.registry.models.pop(name)
        self.registry.routing.forget(name, [])
        self.states[name] = ("UNAVAILABLE", "unloaded")
        for s in current.values():
            self.digests.pop(id(s), None)
        await self._drain(list(current.values()))
        return {"unloaded": sorted(current)}

    async def _drain(self, retired: list) -> None:
        # Requests that already reached a retired batcher are answered; none can reach it from now on.
        for served in retired:
            await served.batcher.close(drain_s=self.settings.request_timeout_s)


def _run_path(predictor) -> Path | None:
    run = getattr(predictor, "run", None)  # the recipes' predictors keep the LoadedRun they serve
    return Path(run.path).resolve() if run is not None else None


def _digest(path: Path) -> str | None:
    """sha256 of a run's model.json, which hashes the weights too: unchanged digest, unchanged model."""
    try:
        return sha256_file(Path(path) / "model.json")
    except OSError:
        return None


# --- HTTP ----------------------------------------------------------------------------------------------

async def _json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise UserError(f"request body is not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise UserError("request body must be a JSON object")
    return doc


def _parameters(doc: dict) -> dict:
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise UserError("'parameters' must be a JSON object")
    return params


async def _audited(request: Request, action: str, target: str | None, work):
    """Run `work()` (a coroutine function returning (payload, detail)), audit it, answer it."""
    repo: Repository = request.app.state.repository
    who = request.scope.get("state", {}).get("identity")
    try:
        payload, detail = await work()
    except UserError as e:
        repo.audit.record(who, action, target, 400, "refused: " + e.line())
        raise
    except Exception as e:  # noqa: BLE001 - audited as failed, then the usual one-line 500
        repo.audit.record(who, action, target, 500, f"failed: {type(e).__name__}")
        raise
    repo.audit.record(who, action, target, 200, "ok", **detail)
    return payload


@router.post("/v2/repository/index", summary="Repository index (Triton model repository extension)")
async def repository_index(request: Request) -> JSONResponse:
    async def work():
        doc = await _json_body(request)
        ready = doc.get("ready", False)
        return request.app.state.repository.index(bool(ready)), {}

    return JSONResponse(await _audited(request, "index", None, work))


async def _change(request: Request, action: str, name: str, change) -> Response:
    """A load or unload: `change(repository, parameters)` under the management lock, audited; 200 empty."""
    repo: Repository = request.app.state.repository

    async def work():
        params = _parameters(await _json_body(request))
        async with repo.lock:
            detail = await change(repo, params)
        log.info("model '%s': %s %s", name, action, detail)
        return None, detail

    await _audited(request, action, name, work)
    return Response(status_code=200)


@router.post("/v2/repository/models/{name}/load", summary="Load or reload a model (Triton model repository extension)")
async def repository_load(request: Request, name: str) -> Response:
    return await _change(request, "load", name, lambda repo, params: repo.load(name, params))


@router.post("/v2/repository/models/{name}/unload", summary="Unload a model (Triton model repository extension)")
async def repository_unload(request: Request, name: str) -> Response:
    return await _change(request, "unload", name, lambda repo, params: repo.unload(name, params))


@router.get("/v2/repository/models/{name}/routing", summary="Routing of a model's unversioned URL (dlbench)")
async def routing_get(request: Request, name: str) -> JSONResponse:
    async def work():
        registry = request.app.state.registry
        registry.get(name, None)  # 404 for an unknown model
        return _routing_state(registry, name), {}

    return JSONResponse(await _audited(request, "routing.get", name, work))


@router.post("/v2/repository/models/{name}/routing", summary="Promote, roll back, canary, shadow (dlbench)")
async def routing_set(request: Request, name: str) -> JSONResponse:
    repo: Repository = request.app.state.repository

    async def work():
        doc = await _json_body(request)
        registry = request.app.state.registry
        registry.get(name, None)
        async with repo.lock:
            route = parse_route(doc, registry.routing.route(name))
            versions = registry.versions(name)
            served = registry.models[name]
            registry.routing.set(name, route, versions, lambda v: sorted(
                (s.name, s.datatype, s.shape) for s in served[v].inputs.values()))
        return _routing_state(registry, name), {"routing": route.to_json()}

    return JSONResponse(await _audited(request, "routing.set", name, work))


def _routing_state(registry, name: str) -> dict:
    route = registry.routing.route(name)
    return {"model": name, "versions": registry.versions(name), **route.to_json(),
            "answers_unversioned": route.default or registry.versions(name)[-1]}


__all__ = ["EXTENSION", "Repository", "Route", "router", "scan_repository"]
