"""ASGI guards that run before FastAPI sees a request: the API key check and the body limits.

Both answer with the protocol's error object `{"error": "..."}` on their own, so an unauthenticated
or oversized request never reaches JSON parsing, validation or a model. The key is checked before
a byte of the body is read, only inference routes take a body at all, and a body must arrive in
time: a client without a key can make the server hold its headers, never its body (issue 27).
Connection-level limits (idle and slow headers, connections per client) are in connections.py.
"""

from __future__ import annotations

import asyncio
import json

from dlbench.serve.auth import KeyVerifier, needs_admin
from dlbench.serve.logs import clip
from dlbench.serve.metrics import endpoint_of

# The health probes stay open: Kubernetes and load balancers call them without credentials.
PUBLIC_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})


async def send_error(send, status: int, message: str, headers: dict[str, str] | None = None, close: bool = False) -> None:
    """The error object as a whole response. `close`: for a request whose body is left unread;
    the connection cannot carry another request, and a slow sender must not keep it open."""
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def declared_body(scope) -> tuple[int | None, bool]:
    """(Content-Length or None, whether the request has a body at all). Raises ValueError for a
    Content-Length that is not a number (llhttp lets some through, e.g. a duplicate header)."""
    length, chunked = None, False
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked or bool(length)


def takes_body(scope) -> bool:
    return scope.get("method") == "POST" and endpoint_of(scope.get("path", "")) in ("infer", "repository", "generate")


class BodyLimitMiddleware:
    """413 for a body where none is taken or over `max_bytes`, 408 for one slower than `timeout_s`.

    Decided from the headers when possible, without reading a byte. Otherwise the body is read
    here, counting as it streams (chunked uploads carry no length, and a client may lie), and
    replayed to the app; that costs nothing extra since the JSON parser needs it whole anyway.
    """

    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            declared, has_body = declared_body(scope)
        except ValueError:
            return await send_error(send, 400, "Content-Length header is not an integer", close=True)
        if not takes_body(scope):
            if has_body:
                return await send_error(
                    send, 413, f"{scope.get('method')} on this path takes no request body; send none", close=True
                )
            return await self.app(scope, receive, send)
        too_big = f"request body exceeds the server limit of {self.max_bytes} bytes; send fewer rows per request"
        if declared is not None and declared > self.max_bytes:
            return await send_error(send, 413, too_big, close=True)
        chunks, size, more = [], 0, True
        try:
            async with asyncio.timeout(self.timeout_s):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # client went away; nobody to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        return await send_error(send, 413, too_big, close=True)
                    chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            return await send_error(
                send, 408, f"request body not received within {self.timeout_s:g} s; send it at once", close=True
            )
        body = b"".join(chunks)
        del chunks  # the pieces, held until the request ends otherwise: the body once, not twice
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as ASGI intends

        await self.app(scope, replay, send)


class AuthMiddleware:
    """401 unless the request carries an active API key, except for the health probes.

    Accepted: `Authorization: Bearer KEY` (what tritonclient's and KServe's clients send when given
    headers) and `X-API-Key: KEY` for tools that reserve Authorization for a proxy in front.
    Unknown paths are 401 too, so the routes cannot be enumerated without a key.
    """

    def __init__(self, app, verifier: KeyVerifier, audit=None):
        self.app = app
        self.verifier = verifier
        self.audit = audit  # refused management calls by valid keys are audited (audit.AuditLog)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in PUBLIC_PATHS:
            return await self.app(scope, receive, send)
        key = None
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    key = token.strip()
            elif name == b"x-api-key" and key is None:
                key = value.decode("latin-1").strip()
        # Refused before its body is read; a body left unread closes the connection (send_error).
        try:
            close = declared_body(scope)[1]
        except ValueError:
            close = True
        if key is None:
            return await send_error(
                send, 401, "missing API key: send the header 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": 'Bearer realm="dlbench"'}, close=close,
            )
        who, why = self.verifier.identify(key)
        if who is None:
            return await send_error(
                send, 401, "expired API key: ask for a new one" if why == "expired" else "invalid or revoked API key",
                {"WWW-Authenticate": 'Bearer realm="dlbench", error="invalid_token"'}, close=close,
            )
        scope.setdefault("state", {})["identity"] = who  # for the audit log: the key's name, never the key
        if not who.admin and needs_admin(scope.get("path", "")):
            if self.audit is not None:
                self.audit.record(who, "refused", clip(scope.get("path", "")), 403, "refused: not an admin key")
            return await send_error(
                send, 403, f"key '{who.name}' is an inference key; model management and logs need an admin key "
                "(dlbench serve keys add --role admin)", close=close,
            )
        await self.app(scope, receive, send)


class NoManagementMiddleware:
    """Without API keys (--no-auth) the management paths answer 403: loading models and reading logs
    need an admin key, and with no keys there is nobody to be one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and needs_admin(scope.get("path", "")):
            return await send_error(send, 403, "model management needs an admin key, and this server runs with "
                                    "--no-auth; serve with --api-keys holding a key made by "
                                    "`dlbench serve keys add --role admin`", close=declared_body(scope)[1])
        await self.app(scope, receive, send)
