"""The pieces behind issue 27's server limits, without a server: the connection guard's bookkeeping,
log clipping, and the one-line errors for bad settings."""

import logging
import sys

import pytest

from dlbench.errors import UserError
from dlbench.serve.connections import ConnectionGuard
from dlbench.serve.logs import ClipFilter, clip
from dlbench.serve.settings import ServeSettings


class Conn:
    """Stands in for a protocol: the guard only needs its address and evict()."""

    def __init__(self, guard, address):
        self.guard, self.address, self.evicted = guard, address, False

    def evict(self):
        self.evicted = True
        self.guard.release(self)


def test_per_client_cap_refuses_with_429_and_frees_on_release():
    closed = []
    guard = ConnectionGuard(max_connections=100, max_per_client=2, header_timeout_s=1, max_header_bytes=1024,
                            on_close=closed.append)
    a1, a2, a3, b1 = (Conn(guard, ip) for ip in ("a", "a", "a", "b"))
    assert guard.admit(a1) is None and guard.admit(a2) is None
    status, message, headers = guard.admit(a3)
    assert status == 429 and "limit 2" in message and headers == {"Retry-After": "1"}
    assert guard.admit(b1) is None  # another address is not affected
    guard.release(a1)
    assert guard.admit(a3) is None and closed == ["per_client_limit"]
    assert guard.open == 3 and guard.per_client == {"a": 2, "b": 1}


def test_at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_are_kept():
    guard = ConnectionGuard(max_connections=2, max_per_client=10, header_timeout_s=1, max_header_bytes=1024)
    old, busy, new = Conn(guard, "x"), Conn(guard, "y"), Conn(guard, "z")
    guard.admit(old), guard.admit(busy)
    guard.busy(busy)
    assert guard.admit(new) is None and old.evicted and not busy.evicted and guard.open == 2
    guard.busy(new)
    status, _, _ = guard.admit(Conn(guard, "w"))  # nobody idle: refused
    assert status == 503 and guard.open == 2
    guard.idle_again(busy)
    assert guard.admit(Conn(guard, "w")) is None and busy.evicted


def test_refusals_are_logged_once_a_minute_with_a_count(monkeypatch):
    guard = ConnectionGuard(max_connections=1, max_per_client=1, header_timeout_s=1, max_header_bytes=1024)
    said = []
    monkeypatch.setattr("dlbench.serve.connections.log.warning", lambda fmt, *a: said.append(fmt % a))
    for _ in range(500):
        guard.note("per_client_limit", "refusing")
    assert said == ["refusing"]
    monkeypatch.setattr("dlbench.serve.connections.time.monotonic", lambda: 1e12)
    guard.note("per_client_limit", "refusing")
    assert said[-1] == "refusing (and 499 more like it in the last minute)"


def test_clip_says_how_much_was_left_out():
    assert clip("abc", 5) == "abc"
    assert clip("x" * 1000, 10) == "x" * 10 + "... [990 more characters]"


def test_log_records_are_clipped_message_and_traceback():
    huge = "y" * (5 * 2**20)
    try:
        raise RuntimeError(f"bad input {huge}")
    except RuntimeError:
        record = logging.LogRecord("dlbench.serve", logging.ERROR, __file__, 1, "predict failed on %s", (huge,),
                                   exc_info=sys.exc_info())
    assert ClipFilter().filter(record)
    text = logging.Formatter().format(record)
    assert len(text) < 10_000 and "more characters]" in text
    assert "RuntimeError: bad input yyy" in text and "Traceback" in text


@pytest.mark.parametrize("options,expected", [
    ({"max_batch_size": 0}, "--max-batch-size 0: input should be greater than or equal to 1"),
    ({"port": 70000}, "--port 70000: input should be less than or equal to 65535"),
    ({"request_timeout_s": 0.0}, "--request-timeout-s 0: input should be greater than 0"),
    ({"max_batch_delay_ms": -1.0}, "--max-batch-delay-ms -1:"),
    ({"keep_alive_s": float("inf")}, "--keep-alive-s inf: input should be a finite number"),
    ({"max_header_bytes": 10}, "--max-header-bytes 10"),
    ({"api_keys_path": 3}, "--api-keys 3"),
])
def test_bad_settings_are_one_line_naming_the_flag(options, expected):
    with pytest.raises(UserError) as e:
        ServeSettings.from_options(**options)
    assert expected in e.value.line() and "\n" not in e.value.line()


def test_all_bad_settings_are_reported_at_once():
    with pytest.raises(UserError) as e:
        ServeSettings.from_options(max_queue=0, max_body_bytes=0)
    assert "--max-queue 0" in e.value.line() and "--max-body-bytes 0" in e.value.line()
