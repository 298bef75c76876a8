"""Where the system under test runs its samples: the model in this process, or a dlbench server.

Both take sample indices and return the predictor's outputs for them (numpy, keyed by output name):

    InProcess   the served predictor itself (`predictors.load_predictor`), called with raw inputs, so
                preprocessing and post-processing are timed as the server runs them. On a GPU, run
                directories take a fast path: the predictor's own preprocessing, then a pinned host
                buffer copied asynchronously to the device and one forward pass.
    Http        a running `dlbench serve` over its Open Inference Protocol REST API (httpx, keep-alive
                connections), so JSON, the HTTP stack, API-key auth and dynamic batching are timed.
                Request bodies are assembled from per-sample JSON fragments prepared while LoadGen
                loads the samples (QSL load_samples_to_ram), outside the timed region, as a client
                holding its payloads would send them.
"""
from __future__ import annotations

import json

import numpy as np

from dlbench.errors import UserError
from dlbench.serve.predictor import DATATYPES


class InProcess:
    kind = "in-process"

    def __init__(self, predictor, samples):
        self.predictor, self.samples = predictor, samples
        run = getattr(predictor, "run", None)
        self.device = str(getattr(run, "device", "cpu"))
        self._fast = run is not None and run.device.type == "cuda" and hasattr(predictor, "model_inputs")
        self._pinned = None

    def describe(self) -> str:
        import torch

        extra = " (pinned inputs, async copy)" if self._fast else f", {torch.get_num_threads()} torch threads"
        return f"in-process on {self.device}{extra}"

    def prepare(self, idx) -> None:
        """Nothing to stage: the raw samples are already in memory."""

    def infer(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        inputs = self.samples.request(idx)
        if self._fast:
            return self._infer_cuda(inputs)
        return self.predictor.predict(inputs, {})

    def _infer_cuda(self, inputs: dict) -> dict[str, np.ndarray]:
        import torch

        p, run = self.predictor, self.predictor.run
        x = torch.from_numpy(np.ascontiguousarray(p.model_inputs(inputs), dtype=np.float32))
        if self._pinned is None or self._pinned.shape[0] < len(x) or self._pinned.shape[1:] != x.shape[1:]:
            self._pinned = torch.empty((max(len(x), 256), *x.shape[1:]), dtype=torch.float32).pin_memory()
        buf = self._pinned[:len(x)]
        buf.copy_(x)
        with torch.inference_mode():
            out = run.model(buf.to(run.device, non_blocking=True))
            preds = run.task.predictions(out)  # .cpu() inside synchronises, so the buffer is free again
        if "label" in preds:
            names = run.spec.class_names or [str(i) for i in range(run.spec.num_classes)]
            return {"probabilities": preds["probabilities"].astype(np.float32),
                    "label": np.array([names[i] for i in preds["label"]], dtype=object)}
        return {"prediction": preds["prediction"].astype(np.float32)}

    def close(self) -> None:
        pass


class RequestFailed(Exception):
    """One request of a run failed (HTTP error, timeout, refused): counted, and the run is INVALID."""


def read_api_key(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            key = f.read().strip()
    except OSError as e:
        raise UserError(f"cannot read --api-key-file {path}: {e.strerror or e}") from None
    if not key:
        raise UserError(f"--api-key-file {path} is empty", "put the key `dlbench serve keys add` printed in it")
    return key


class Http:
    kind = "http"

    def __init__(self, url: str, model: str, api_key: str | None, samples, concurrency: int = 16,
                 timeout_s: float = 30.0):
        import httpx

        if not url.startswith(("http://", "https://")):
            raise UserError(f"--url {url} is not an http:// or https:// URL", "e.g. --url http://127.0.0.1:8000")
        self.url, self.model, self.samples = url.rstrip("/"), model, samples
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, limits=limits)
        first = samples.request(np.arange(1))
        self.row_shapes = {name: list(a.shape[1:]) for name, a in first.items()}
        self.in_types = self._check_metadata(first)
        self._frags: dict[str, dict[int, str]] = {name: {} for name in first}

    def describe(self) -> str:
        return f"http {self.url}, model '{self.model}'"

    def _get(self, path: str):
        import httpx

        try:
            return self.client.get(path)
        except httpx.HTTPError as e:
            self.client.close()
            raise UserError(f"cannot reach the inference server at {self.url} ({type(e).__name__}: {e})",
                            "start it with `dlbench serve RUN_DIR`, or fix --url") from None

    def _check_metadata(self, first: dict[str, np.ndarray]) -> dict[str, str]:
        """The served model's input datatypes; UserError if the server is down, refuses the key or lacks the model."""
        r = self._get("/v2/health/ready")
        if r.status_code != 200:
            raise UserError(f"the server at {self.url} is not ready (GET /v2/health/ready: {r.status_code})",
                            "is it a dlbench (Open Inference Protocol) server, and not shutting down?")
        r = self._get(f"/v2/models/{self.model}")
        if r.status_code in (401, 403):
            raise UserError(f"the server at {self.url} rejected the API key ({r.status_code}: {_error_text(r)})",
                            "pass --api-key-file with a key of this server (`dlbench serve keys add`)")
        if r.status_code == 404:
            raise UserError(f"the server at {self.url} does not serve model '{self.model}' ({_error_text(r)})",
                            "pass --model-name with the served name (the run directory's name by default)")
        if r.status_code != 200:
            raise UserError(f"GET {self.url}/v2/models/{self.model} failed: {r.status_code} {_error_text(r)}")
        served = {t["name"]: t["datatype"] for t in r.json()["inputs"]}
        for name, a in first.items():
            ours = _datatype(a)
            theirs = served.get(name)
            if theirs is None or (theirs != ours and not (theirs.startswith("FP") and ours.startswith("FP"))):
                have = ", ".join(f"{n} ({d})" for n, d in served.items())
                raise UserError(f"model '{self.model}' at {self.url} does not take input '{name}' as {ours} "
                                f"(it takes {have})", "is the server serving this run directory?")
        return served

    # -- request bodies ----------------------------------------------------------------------------
    def prepare(self, idx) -> None:
        """JSON text of each sample's inputs, made once while LoadGen loads the samples."""
        if not self.samples.batchable:
            return
        idx = np.asarray(idx, dtype=np.int64)
        for name, a in self.samples.request(idx).items():
            frags = self._frags[name]
            for i, row in zip(idx.tolist(), a):
                value = row.reshape(-1).tolist() if isinstance(row, np.ndarray) else str(row)
                frags[i] = json.dumps(value)[1:-1] if isinstance(value, list) else json.dumps(value)

    def _body(self, idx: np.ndarray) -> str:
        ids = idx.tolist()
        ready = self.samples.batchable and all(i in f for f in self._frags.values() for i in ids)
        if not ready:
            return json.dumps({"inputs": [_tensor(n, a, self.in_types[n]) for n, a in self.samples.request(idx).items()]})
        parts = []
        for name, frags in self._frags.items():
            head = json.dumps({"name": name, "shape": [len(ids), *self.row_shapes[name]],
                               "datatype": self.in_types[name]})
            parts.append(head[:-1] + ', "data": [' + ",".join(frags[i] for i in ids) + "]}")
        return '{"inputs": [' + ", ".join(parts) + "]}"

    def infer(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        import httpx

        try:
            r = self.client.post(f"/v2/models/{self.model}/infer", content=self._body(idx))
        except httpx.HTTPError as e:
            raise RequestFailed(f"{type(e).__name__}: {e}") from None
        if r.status_code != 200:
            raise RequestFailed(f"HTTP {r.status_code}: {_error_text(r)}")
        out = {}
        for o in r.json()["outputs"]:
            dt = o["datatype"]
            if dt == "BYTES":
                a = np.empty(len(o["data"]), dtype=object)
                a[:] = o["data"]
            else:  # null (a non-finite float on the wire) reads back as nan
                a = np.asarray(o["data"], dtype=np.float64 if dt.startswith("FP") else DATATYPES[dt])
                a = a.astype(DATATYPES[dt], copy=False)
            out[o["name"]] = a.reshape(o["shape"])
        return out

    def close(self) -> None:
        self.client.close()


def _error_text(r) -> str:
    try:
        return str(r.json().get("error", r.text))[:200]
    except ValueError:
        return r.text[:200]


def _datatype(a: np.ndarray) -> str:
    if a.dtype == object:
        return "BYTES"
    for name, dt in DATATYPES.items():
        if name != "BYTES" and np.dtype(dt) == a.dtype:
            return name
    return "FP32"


def _tensor(name: str, a: np.ndarray, datatype: str) -> dict:
    data = [str(v) for v in a.reshape(-1)] if datatype == "BYTES" else a.reshape(-1).tolist()
    return {"name": name, "shape": list(a.shape), "datatype": datatype, "data": data}
