"""The HTTP back end: a running `dlbench serve` over its Open Inference Protocol (v2) REST API.

httpx with keep-alive connections, one request per back-end call, so what is timed is what a
client pays: the HTTP stack, API-key auth, the server's dynamic batching and the encoding.

Encoding: the binary tensor data extension (raw little-endian tensors after a JSON header, what
tritonclient sends by default) when the server lists it in GET /v2, else JSON. JSON bodies are
assembled from per-sample fragments that `prepare` makes while LoadGen loads the samples (QSL
load_samples_to_ram), outside the timed region, as a client holding its payloads would send them.
"""
from __future__ import annotations

import json
import re
import struct

import numpy as np

from dlbench.bench.infer.backends import RequestFailed
from dlbench.errors import UserError
from dlbench.serve.predictor import DATATYPES

BINARY_EXTENSION = "binary_tensor_data"
HEADER = "Inference-Header-Content-Length"


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
    device = "server"

    def __init__(self, url: str, model: str, api_key: str | None, samples, concurrency: int = 16,
                 encoding: str = "auto", timeout_s: float = 30.0):
        import httpx

        if not url.startswith(("http://", "https://")):
            raise UserError(f"--url {url} is not an http:// or https:// URL", "e.g. --url http://127.0.0.1:8000")
        if encoding not in ("auto", "binary", "json"):
            raise UserError(f"unknown --http-encoding '{encoding}'", "use auto, binary or json")
        self.url, self.model, self.samples = url.rstrip("/"), model, samples
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, limits=limits)
        try:
            first = samples.request(np.arange(1))
            self.row_shapes = {name: list(a.shape[1:]) for name, a in first.items()}
            extensions = self._check_server()
            self.in_types = self._check_model(first)
        except BaseException:
            self.client.close()
            raise
        if encoding == "binary" and BINARY_EXTENSION not in extensions:
            raise UserError(f"the server at {self.url} does not offer binary tensors", "use --http-encoding json")
        self.binary = encoding == "binary" or (encoding == "auto" and BINARY_EXTENSION in extensions)
        self._frags: dict[str, dict[int, bytes]] = {name: {} for name in first}

    def describe(self) -> str:
        return f"http {self.url}, model '{self.model}', {'binary' if self.binary else 'JSON'} tensors"

    # -- checks before the test: one clear line for each way the server can be wrong -------------------
    def _get(self, path: str):
        import httpx

        try:
            return self.client.get(path)
        except httpx.HTTPError as e:
            raise UserError(f"cannot reach the inference server at {self.url} ({type(e).__name__}: {e})",
                            "start it with `dlbench serve RUN_DIR`, or fix --url") from None

    def _check_server(self) -> list[str]:
        r = self._get("/v2/health/ready")
        if r.status_code != 200:
            raise UserError(f"the server at {self.url} is not ready (GET /v2/health/ready: {r.status_code})",
                            "is it a dlbench (Open Inference Protocol) server, and not shutting down?")
        r = self._get("/v2")
        self._check_auth(r)
        try:
            return list(r.json().get("extensions", [])) if r.status_code == 200 else []
        except ValueError:
            return []

    def _check_auth(self, r) -> None:
        if r.status_code in (401, 403):
            raise UserError(f"the server at {self.url} rejected the API key ({r.status_code}: {_error_text(r)})",
                            "pass --api-key-file with a key of this server (`dlbench serve keys add`)")

    def _check_model(self, first: dict[str, np.ndarray]) -> dict[str, str]:
        r = self._get(f"/v2/models/{self.model}")
        self._check_auth(r)
        if r.status_code == 404:
            raise UserError(f"the server at {self.url} does not serve model '{self.model}' ({_error_text(r)})",
                            "pass --model-name with the served name (the run directory's name by default)")
        if r.status_code != 200:
            raise UserError(f"GET {self.url}/v2/models/{self.model} failed: {r.status_code} {_error_text(r)}")
        served = {t["name"]: t["datatype"] for t in r.json()["inputs"]}
        for name, a in first.items():
            ours, theirs = _datatype(a), served.get(name)
            if theirs is None or (theirs != ours and not (theirs.startswith("FP") and ours.startswith("FP"))):
                have = ", ".join(f"{n} ({d})" for n, d in served.items())
                raise UserError(f"model '{self.model}' at {self.url} does not take input '{name}' as {ours} "
                                f"(it takes {have})", "is the server serving this run directory?")
        return served

    # -- request bodies ------------------------------------------------------------------------------
    def prepare(self, idx) -> None:
        """Per-sample request bytes, made while LoadGen loads the samples (numeric binary needs none)."""
        if not self.samples.batchable:
            return
        idx = np.asarray(idx, dtype=np.int64)
        for name, a in self.samples.request(idx).items():
            dt = self.in_types[name]
            if self.binary and dt != "BYTES":
                continue
            frags = self._frags[name]
            for i, row in zip(idx.tolist(), a):
                if self.binary:  # BYTES: 4-byte little-endian length, then UTF-8
                    b = str(row).encode("utf-8")
                    frags[i] = struct.pack("<I", len(b)) + b
                elif dt == "BYTES":
                    frags[i] = json.dumps(str(row)).encode()
                else:  # the row's values, flat, without the brackets: rows are joined with ","
                    frags[i] = json.dumps(np.asarray(row).reshape(-1).tolist())[1:-1].encode()

    def _data(self, name: str, idx: np.ndarray, arrays) -> bytes:
        frags, ids = self._frags[name], idx.tolist()
        if self.samples.batchable and all(i in frags for i in ids):
            return (b"" if self.binary else b",").join(frags[i] for i in ids)
        a = arrays()[name]
        if self.binary:
            return _binary(a, self.in_types[name])
        return json.dumps(_flat(a, self.in_types[name]))[1:-1].encode()

    def _body(self, idx: np.ndarray) -> tuple[bytes, dict]:
        cache: dict = {}
        arrays = lambda: cache.setdefault("a", self.samples.request(idx))  # noqa: E731 - built only if needed
        n = len(idx) if self.samples.batchable else None
        heads, blobs = [], []
        for name in self._frags:
            data = self._data(name, idx, arrays)
            shape = [n, *self.row_shapes[name]] if n is not None else list(arrays()[name].shape)
            head = {"name": name, "shape": shape, "datatype": self.in_types[name]}
            if self.binary:
                heads.append(json.dumps({**head, "parameters": {"binary_data_size": len(data)}}).encode())
                blobs.append(data)
            else:
                heads.append(json.dumps(head)[:-1].encode() + b', "data": [' + data + b"]}")
        # Only the output that is scored (and logged) is asked for, in binary when the server can.
        want = {"name": self.samples.out_name, **({"parameters": {"binary_data": True}} if self.binary else {})}
        header = b'{"inputs": [' + b", ".join(heads) + b'], "outputs": [' + json.dumps(want).encode() + b"]}"
        if self.binary:
            return header + b"".join(blobs), {HEADER: str(len(header)), "Content-Type": "application/octet-stream"}
        return header, {"Content-Type": "application/json"}

    def infer(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        import httpx

        body, headers = self._body(idx)
        try:
            r = self.client.post(f"/v2/models/{self.model}/infer", content=body, headers=headers)
        except httpx.HTTPError as e:
            raise RequestFailed(f"{type(e).__name__}: {e}") from None
        if r.status_code != 200:
            raise RequestFailed(f"HTTP {r.status_code}: {_error_text(r)}")
        size = r.headers.get(HEADER)
        raw = r.content
        head = json.loads(raw if size is None else raw[:int(size)])
        offset = 0 if size is None else int(size)
        out = {}
        for o in head["outputs"]:
            dt, shape = o["datatype"], o["shape"]
            nbytes = (o.get("parameters") or {}).get("binary_data_size")
            if nbytes is not None:
                out[o["name"]] = _unbinary(raw[offset:offset + nbytes], dt, shape)
                offset += nbytes
            elif dt == "BYTES":
                a = np.empty(len(o["data"]), dtype=object)
                a[:] = o["data"]
                out[o["name"]] = a.reshape(shape)
            else:  # null (a non-finite float on the wire) reads back as nan
                a = np.asarray(o["data"], dtype=np.float64 if dt.startswith("FP") else DATATYPES[dt])
                out[o["name"]] = a.astype(DATATYPES[dt], copy=False).reshape(shape)
        return out

    def batch_stats(self) -> tuple[float, float] | None:
        """(rows, predict calls) the server has run for this model so far, from its Prometheus /metrics:
        the difference over a test is the batch size its dynamic batching formed."""
        import httpx

        try:
            text = self.client.get("/metrics").text
        except httpx.HTTPError:
            return None
        got = {}
        for part in ("sum", "count"):
            m = re.search(rf'^dlbench_batch_size_{part}{{model="{re.escape(self.model)}"}} (\S+)$', text, re.M)
            if not m:
                return None
            got[part] = float(m.group(1))
        return got["sum"], got["count"]

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


def _flat(a: np.ndarray, datatype: str) -> list:
    return [str(v) for v in a.reshape(-1)] if datatype == "BYTES" else a.reshape(-1).tolist()


def _binary(a: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = [str(v).encode("utf-8") for v in a.reshape(-1)]
        return b"".join(struct.pack("<I", len(b)) + b for b in parts)
    return np.ascontiguousarray(a, dtype=np.dtype(DATATYPES[datatype]).newbyteorder("<")).tobytes()


def _unbinary(blob: bytes, datatype: str, shape: list[int]) -> np.ndarray:
    if datatype == "BYTES":
        items, pos = [], 0
        while pos + 4 <= len(blob):
            (n,) = struct.unpack_from("<I", blob, pos)
            items.append(blob[pos + 4:pos + 4 + n].decode("utf-8", errors="replace"))
            pos += 4 + n
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    return np.frombuffer(blob, dtype=dtype).astype(dtype.newbyteorder("="), copy=False).reshape(shape)
