"""ASGI guards that run before FastAPI sees a request: the body-size limit and the API key check.

Both answer with the protocol's error object `{"error": "..."}` on their own, so an oversized or
unauthenticated request never reaches JSON parsing, validation or a model.
"""

from __future__ import annotations

import json

from dlbench.serve.auth import KeyVerifier

# The health probes stay open: Kubernetes and load balancers call them without credentials.
PUBLIC_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})


async def send_error(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`, decided before any parsing.

    A declared Content-Length over the limit is refused without reading a byte. Otherwise the body
    is read here, counting as it streams (chunked uploads carry no length, and a client may lie),
    and replayed to the app; that costs nothing extra since the JSON parser needs it whole anyway.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = f"request body exceeds the server limit of {self.max_bytes} bytes; send fewer rows per request"
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await send_error(send, 400, "Content-Length header is not an integer")
            if declared > self.max_bytes:
                return await send_error(send, 413, too_big)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # client went away; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await send_error(send, 413, too_big)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
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

    def __init__(self, app, verifier: KeyVerifier):
        self.app = app
        self.verifier = verifier

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
        if key is None:
            return await send_error(
                send, 401, "missing API key: send the header 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": 'Bearer realm="dlbench"'},
            )
        if not self.verifier.verify(key):
            return await send_error(
                send, 401, "invalid or revoked API key",
                {"WWW-Authenticate": 'Bearer realm="dlbench", error="invalid_token"'},
            )
        await self.app(scope, receive, send)
