"""The request log: a sample of live inputs with the predictions they got, for `dlbench monitor` and audits.

One JSON object per line: {"time", "model", "version", "id", "inputs": {name: nested list}, "outputs": {name:
nested list}, "far_outside": [feature, ...]}. Only tensors are written: no header, so never an API key, and no
client address. A request is logged with probability `sample_rate`; the file is rotated at `max_bytes` with
BACKUPS older files kept (PATH.1, PATH.2, ...: logging.handlers.RotatingFileHandler), and created readable by
its owner only, since it holds users' data.
"""
from __future__ import annotations

import json
import logging
import os
import random
from datetime import datetime, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path

import numpy as np

from dlbench.errors import UserError

BACKUPS = 3
MAX_LINE_BYTES = 1 << 20
"""A request whose line would be longer (a large batch of images) is counted, not logged."""


def _plain(a: np.ndarray):
    a = np.asarray(a)
    if a.dtype == object:
        return [v.decode("utf-8", errors="replace") if isinstance(v, (bytes, bytearray)) else str(v)
                for v in a.reshape(-1)] if a.ndim == 1 else _plain_nested(a)
    return a.tolist()


def _plain_nested(a: np.ndarray):
    return [_plain(row) for row in a]


class RequestLog:
    def __init__(self, path: str | Path, sample_rate: float, max_bytes: int):
        self.path = Path(path)
        self.rate = float(sample_rate)
        if not self.path.parent.is_dir():
            raise UserError(f"--request-log {path}: folder {self.path.parent} does not exist", "create it first")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
            handler = RotatingFileHandler(self.path, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8")
        except OSError as e:
            raise UserError(f"--request-log {path}: cannot write it ({e.strerror or e})", "give a writable path") from None
        handler.setFormatter(logging.Formatter("%(message)s"))
        # A logger of its own, outside logging's registry: no configuration can route these lines elsewhere.
        self.logger = logging.Logger("dlbench.serve.requests", logging.INFO)
        self.logger.addHandler(handler)
        self.logger.propagate = False
        self.random = random.Random()
        self.skipped = 0

    def sample(self) -> bool:
        return self.rate >= 1 or self.random.random() < self.rate

    def write(self, model: str, version: str, request_id: str | None, inputs: dict, outputs: dict,
              far_outside: list[str] | None = None) -> None:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "model": model,
                  "version": version, "id": request_id,
                  "inputs": {k: _plain(v) for k, v in inputs.items()},
                  "outputs": {k: _plain(v) for k, v in outputs.items()}}
        if far_outside:
            record["far_outside"] = far_outside
        line = json.dumps(record, separators=(",", ":"), default=str)
        if len(line) > MAX_LINE_BYTES:
            self.skipped += 1
            return
        self.logger.info(line)

    def close(self) -> None:
        for h in self.logger.handlers:
            h.close()
