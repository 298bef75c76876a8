"""Connection guards: what a client can hold before it has sent a whole request.

uvicorn bounds a connection only once a response has gone out (its keep-alive timeout), and its
`limit_concurrency` counts idle connections as load. So ~1,000 silent sockets, or slowloris
clients sending one header line every few seconds, made every request, health included, get a
503 until they left (issue 27). What uvicorn has no knob for is done here, at the protocol layer,
because none of it is visible to ASGI: an idle or half-sent request never reaches the app.

- a header deadline: from a connection's first moment (or a keep-alive request's first byte) to
  the end of its headers; late ones get 408 (or, if they sent nothing at all, a silent close);
- a header size cap (431): llhttp itself accepts headers of any length;
- a cap on open connections per client address (429), so one address cannot take them all;
- a cap on open connections in all: at the cap the oldest *idle* connection (no request, or a
  request whose headers are still arriving) is closed to make room, and only when every
  connection is busy with a request is the newcomer refused (503).

Bodies are bounded in ASGI (limits.py): by then the request is known, so it can be authenticated
first and answered in the protocol's JSON error format.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("dlbench.serve")

WARN_EVERY_S = 60.0  # under attack the same refusal happens thousands of times; say so once a minute


class ConnectionGuard:
    """The state every connection of one server shares: counts per client address and overall,
    and which connections are idle (oldest first), so the cap can evict instead of refuse."""

    def __init__(
        self,
        max_connections: int,
        max_per_client: int,
        header_timeout_s: float,
        max_header_bytes: int,
        on_close: Callable[[str], None] | None = None,
    ):
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.header_timeout_s = header_timeout_s
        self.max_header_bytes = max_header_bytes
        self.on_close = on_close
        self.open = 0
        self.per_client: dict[str, int] = {}
        self.idle: dict[GuardedHttpToolsProtocol, None] = {}  # insertion order = idle since
        self._warned: dict[str, tuple[float, int]] = {}

    def admit(self, conn: GuardedHttpToolsProtocol) -> tuple[int, str, dict[str, str]] | None:
        """None if `conn` may stay, else the (status, message, headers) to refuse it with."""
        address = conn.address
        if self.per_client.get(address, 0) >= self.max_per_client:
            self.note("per_client_limit", f"refusing connections from {address}: {self.max_per_client} already open")
            return 429, (
                f"too many open connections from your address (limit {self.max_per_client}); "
                "reuse keep-alive connections or close idle ones"
            ), {"Retry-After": "1"}
        if self.open >= self.max_connections:
            if not self.idle:
                self.note("server_full", f"refusing connections: all {self.max_connections} are busy with requests")
                return 503, "the server is at its connection limit; retry in 1 s", {"Retry-After": "1"}
            oldest = next(iter(self.idle))
            self.note("evicted_idle", f"closing idle connections to make room: {self.max_connections} open")
            oldest.evict()
        self.open += 1
        self.per_client[address] = self.per_client.get(address, 0) + 1
        self.idle[conn] = None
        return None

    def release(self, conn: GuardedHttpToolsProtocol) -> None:
        self.open -= 1
        left = self.per_client[conn.address] - 1
        if left:
            self.per_client[conn.address] = left
        else:
            del self.per_client[conn.address]
        self.idle.pop(conn, None)

    def busy(self, conn: GuardedHttpToolsProtocol) -> None:
        self.idle.pop(conn, None)

    def idle_again(self, conn: GuardedHttpToolsProtocol) -> None:
        self.idle.pop(conn, None)
        self.idle[conn] = None  # to the back: idle the shortest

    def note(self, reason: str, message: str) -> None:
        """Count a connection closed for `reason`; log it at most once a minute per reason."""
        if self.on_close is not None:
            self.on_close(reason)
        now = time.monotonic()
        last, since = self._warned.get(reason, (float("-inf"), 0))
        if now - last < WARN_EVERY_S:
            self._warned[reason] = (last, since + 1)
            return
        more = f" (and {since} more like it in the last minute)" if since else ""
        log.warning("%s%s", message, more)
        self._warned[reason] = (now, 0)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the guards above (uvicorn[standard] always has httptools).

    Subclassed rather than wrapped: the guards need the parser's callbacks (where headers start
    and end) and the request cycle, which only the protocol itself sees.
    """

    guard: ConnectionGuard  # set per server by protocol_class()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.admitted = False
        self.awaiting_headers = True  # between requests, or inside a request line / headers
        self.partial_request = False  # some bytes of the next request have arrived
        self.header_bytes = 0
        self.headers_too_large = False
        self.header_timer = None

    @property
    def address(self) -> str:
        return self.client[0] if self.client else ""

    # --- connection lifetime ---

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        refusal = self.guard.admit(self)
        if refusal is not None:
            self.reply_and_close(*refusal)
            return
        self.admitted = True
        self._start_header_clock()

    def connection_lost(self, exc) -> None:
        self._stop_header_clock()
        if self.admitted:
            self.admitted = False
            self.guard.release(self)
        super().connection_lost(exc)

    def evict(self) -> None:
        """Closed by the guard to make room; released now so the count stays exact."""
        self.admitted = False
        self.guard.release(self)
        self._stop_header_clock()
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return  # refused or evicted, and closing
        if self.awaiting_headers:
            self.partial_request = True
            if self.header_timer is None:
                self._start_header_clock()
        super().data_received(data)

    # --- parser callbacks: where a request's headers start and end ---

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        self.awaiting_headers = self.partial_request = False
        self.header_bytes = 0
        self.guard.busy(self)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.awaiting_headers = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer exactly when nothing else is in flight.
        if self.admitted and self.timeout_keep_alive_task is not None:
            self.guard.idle_again(self)

    # --- the guards ---

    def _count_header_bytes(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > self.guard.max_header_bytes:
            self.headers_too_large = True
            # httptools turns this into HttpParserError; uvicorn then calls send_400_response.
            raise ValueError("request headers too large")

    def send_400_response(self, msg: str) -> None:
        if self.headers_too_large:
            self.guard.note("header_too_large", f"closing connections whose headers exceed {self.guard.max_header_bytes} bytes")
            self.reply_and_close(
                431, f"request line and headers exceed the server limit of {self.guard.max_header_bytes} bytes"
            )
        else:
            self.reply_and_close(400, f"malformed HTTP request: {msg}")

    def _start_header_clock(self) -> None:
        self.header_timer = self.loop.call_later(self.guard.header_timeout_s, self._header_timeout)

    def _stop_header_clock(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timeout(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a response is on its way: let it finish, then close
            return
        if not self.partial_request:  # idle, nothing sent: a plain close, as for keep-alive
            self.guard.note("idle_timeout", f"closing connections idle for {self.guard.header_timeout_s:g} s")
            self.transport.close()
            return
        self.guard.note("header_timeout", f"closing connections whose headers took over {self.guard.header_timeout_s:g} s")
        self.reply_and_close(
            408, f"request headers not received within {self.guard.header_timeout_s:g} s; send the whole request at once"
        )

    def reply_and_close(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """A whole response written straight to the socket, for when there is no request cycle."""
        body = json.dumps({"error": message}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        for name, value in {"content-type": "application/json", "content-length": str(len(body)),
                            "connection": "close", **(headers or {})}.items():
            head += [name.lower().encode(), b": ", value.encode(), b"\r\n"]
        self.transport.write(b"".join(head) + b"\r\n" + body)
        self.transport.close()


def protocol_class(guard: ConnectionGuard) -> type[GuardedHttpToolsProtocol]:
    """A protocol class bound to one server's guard (uvicorn instantiates it per connection)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": guard})
