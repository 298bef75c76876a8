"""What the server writes to its logs, and how much of it.

A client controls much of what ends up in a log line (paths, tensor names, strings that reach a
model's exception message), so every line is clipped: one request must never write megabytes
(issue 27). Clipped text says how much was left out, so nobody mistakes it for the whole value.
"""

from __future__ import annotations

import copy
import logging
import traceback

from uvicorn.config import LOGGING_CONFIG

MAX_MESSAGE_CHARS = 2000  # a log message (the access log's JSON line is far shorter)
MAX_FIELD_CHARS = 256  # one client-supplied value inside a message: a path, a name
MAX_TRACEBACK_LINE_CHARS = 1000
MAX_TRACEBACK_LINES = 200  # deep enough for any real stack; head and tail are kept


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


def _traceback(exc_info) -> str:
    lines = [clip(line, MAX_TRACEBACK_LINE_CHARS) for line in "".join(traceback.format_exception(*exc_info)).splitlines()]
    if len(lines) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        lines = lines[:half] + [f"... [{len(lines) - 2 * half} lines left out]"] + lines[-half:]
    return "\n".join(lines)


class ClipFilter(logging.Filter):
    """Clips the message and the traceback of every record a handler writes.

    A filter rather than a formatter: it works with whichever formatter a handler has (uvicorn's
    coloured one, our bare JSON one), and the exception's own message, which may quote a client's
    input whole, is clipped too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > MAX_MESSAGE_CHARS:
            record.msg, record.args = clip(message, MAX_MESSAGE_CHARS), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _traceback(record.exc_info)  # logging.Formatter uses it as is
        return True


def log_config() -> dict:
    """uvicorn's logging setup plus ours; the access log is one bare JSON line per request, on stdout."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["dlbench_clip"] = {"()": ClipFilter}
    config["formatters"]["dlbench_json_line"] = {"format": "%(message)s"}
    config["handlers"]["dlbench_access"] = {
        "class": "logging.StreamHandler", "formatter": "dlbench_json_line", "stream": "ext://sys.stdout",
    }
    # uvicorn's own access handler is left alone: it is off (access_log=False) and its formatter
    # reads the record's args, which the filter may replace.
    for handler in ("default", "dlbench_access"):
        config["handlers"][handler]["filters"] = ["dlbench_clip"]
    config["loggers"]["dlbench.serve.access"] = {"handlers": ["dlbench_access"], "level": "INFO", "propagate": False}
    # Server messages (the --no-auth warning, model errors) look like uvicorn's own, on stderr.
    config["loggers"]["dlbench.serve"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
