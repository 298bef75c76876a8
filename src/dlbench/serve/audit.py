"""The audit log of management calls: one JSON line per call, who (the key's name), what, when, result.

Written to the logger `dlbench.serve.audit` (the server's log) and, with `--audit-log FILE`, appended to
that file (created readable by the owner only). The key itself never appears: the AuthMiddleware leaves
only its name in the request state. Model management is rare, so each record is flushed and fsync'ed:
a record is on disk before the call's answer is sent.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from dlbench.serve.logs import clip

audit_log = logging.getLogger("dlbench.serve.audit")


class AuditLog:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)

    def record(self, who, action: str, target: str | None, status: int, result: str, **details) -> dict:
        """`who`: the request's Identity (or None without keys); `status`: the HTTP status answered."""
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "key": getattr(who, "name", None), "role": getattr(who, "role", None),
                 "action": action, "target": target, "status": status, "result": clip(result, 500), **details}
        line = json.dumps(entry)
        audit_log.info(line)
        if self.path is not None:
            with self._lock, open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        return entry


def read_audit(path: Path | str) -> list[dict]:
    """The records of an audit file, oldest first."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
