"""Fake predictors (one per model family) and a real uvicorn server on a free loopback port.

Shared by tests/unit/serve and tests/integration/test_serve_*.py; the fakes are deterministic
numpy so tests check the server, not a model.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.serve.predictor import TensorSpec
from dlbench.serve.server import bind_socket, build_server
from dlbench.serve.settings import ServeSettings


class FakeClassifier:
    """input FP32 [-1, 40] -> probabilities FP32 [-1, 10], label INT64 [-1]; label = argmax of x[:, :10]."""

    platform = "pytorch"
    batchable = True

    def __init__(self, name: str = "classifier", version: str = "1", delay_s: float = 0.0, offset: int = 0):
        self.name, self.version, self.delay_s, self.offset = name, version, delay_s, offset
        self.calls: list[int] = []  # rows per predict call: lets tests see batching happen

    def inputs(self):
        return [TensorSpec("input", "FP32", (-1, 40))]

    def outputs(self):
        return [TensorSpec("probabilities", "FP32", (-1, 10)), TensorSpec("label", "INT64", (-1,))]

    def predict(self, inputs, parameters):
        x = inputs["input"]
        self.calls.append(x.shape[0])
        if self.delay_s:
            time.sleep(self.delay_s)
        logits = x[:, :10].astype(np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return {"probabilities": p.astype(np.float32), "label": (logits.argmax(axis=1) + self.offset).astype(np.int64)}


class FakeRegressor:
    """features FP64 [-1, 3] -> value FP32 [-1, 1] = sum of features."""

    name, version, platform, batchable = "regressor", "1", "pytorch", True

    def inputs(self):
        return [TensorSpec("features", "FP64", (-1, 3))]

    def outputs(self):
        return [TensorSpec("value", "FP32", (-1, 1))]

    def predict(self, inputs, parameters):
        return {"value": inputs["features"].sum(axis=1, keepdims=True).astype(np.float32)}


class FakeTranslator:
    """text BYTES [-1] -> translation BYTES [-1]: reversed words; parameter 'upper' upper-cases."""

    name, version, platform, batchable = "translator", "1", "pytorch", True

    def inputs(self):
        return [TensorSpec("text", "BYTES", (-1,))]

    def outputs(self):
        return [TensorSpec("translation", "BYTES", (-1,))]

    def predict(self, inputs, parameters):
        out = [" ".join(reversed(s.split())) for s in inputs["text"]]
        if parameters.get("upper") is True:
            out = [s.upper() for s in out]
        arr = np.empty(len(out), dtype=object)
        arr[:] = out
        return {"translation": arr}


class FakeGenerator:
    """Not batchable: count INT32 [1], labels INT64 [-1], seed INT64 [1] -> samples FP32 [-1, 40]."""

    name, version, platform, batchable = "generator", "1", "pytorch", False

    def inputs(self):
        return [TensorSpec("count", "INT32", (1,)), TensorSpec("labels", "INT64", (-1,)),
                TensorSpec("seed", "INT64", (1,), optional=True)]

    def outputs(self):
        return [TensorSpec("samples", "FP32", (-1, 40))]

    def predict(self, inputs, parameters):
        count = int(inputs["count"][0])
        labels = inputs["labels"]
        if not 1 <= count <= 64:
            raise UserError(f"count must be in 1..64, got {count}")
        if labels.size != count or (labels < 0).any() or (labels > 9).any():
            raise UserError("labels must hold `count` values in 0..9")
        seed = int(inputs["seed"][0]) if "seed" in inputs else 0
        rng = np.random.default_rng(seed)
        return {"samples": (rng.standard_normal((count, 40)) + labels[:, None]).astype(np.float32)}


class BrokenPredictor(FakeRegressor):
    """Raises a non-UserError: the server must answer 500 with one line, never a traceback."""

    name = "broken"

    def predict(self, inputs, parameters):
        raise RuntimeError("boom: secret internal detail")


def all_fakes():
    return [FakeClassifier(), FakeRegressor(), FakeTranslator(), FakeGenerator()]


@contextlib.contextmanager
def live_server(predictors, **settings):
    """A real uvicorn server in a background thread; yields its base URL (http://127.0.0.1:PORT)."""
    settings.setdefault("port", 0)
    cfg = ServeSettings(**settings)
    server = build_server(predictors, cfg)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def make_keys(tmp: Path) -> tuple[Path, str]:
    from dlbench.serve.auth import add_key

    path = tmp / "keys.json"
    return path, add_key(path, "tests")


@contextlib.contextmanager
def captured(logger_name: str):
    """Records of one logger; build_server gives our loggers their own handlers (no propagation
    to the root, so pytest's caplog would not see them)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
