"""Every failure becomes the protocol's error object `{"error": "..."}` with the right status.

Client mistakes are 4xx with a message saying what was expected; overload is 503 + Retry-After;
a timeout is 504; only a bug on our side is a 500, and even then the client gets one line, never
a traceback (that goes to the server log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from dlbench.errors import UserError
from dlbench.serve.batching import Overloaded, TimedOut
from dlbench.serve.limits import send_error
from dlbench.serve.logs import MAX_MESSAGE_CHARS, clip
from dlbench.serve.protocol import ErrorResponse, validation_message

log = logging.getLogger("dlbench.serve")

RETRY_AFTER_S = 1  # a batch takes milliseconds; by then the queue has moved on

ERROR_RESPONSES: dict = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Malformed request, or tensors that do not match the model",
        401: "Missing, invalid or revoked API key",
        404: "Unknown model or version",
        413: "Request body too large",
        503: "Model queue full or server shutting down; retry after Retry-After seconds",
        504: "The model did not answer within the request timeout",
    }.items()
}

def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    # Messages quote what the client sent (a path, a tensor name): clipped, so a 5 MB name is not
    # echoed back whole.
    return JSONResponse({"error": clip(message, MAX_MESSAGE_CHARS)}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, validation_message(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /openapi.json"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        elif message == "There was an error parsing the body":
            message = "request body could not be parsed; expected a JSON inference request object"
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        return _error(400, exc.line())

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        return _error(503, f"{exc}; retry in {RETRY_AFTER_S} s", {"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(TimedOut)
    async def timed_out(request: Request, exc: TimedOut) -> JSONResponse:
        return _error(504, str(exc))


class InternalErrorMiddleware:
    """A bug anywhere below becomes a one-line 500; the traceback goes to the server log only.

    Done here rather than with an `Exception` handler: Starlette runs that one outside every
    middleware and re-raises afterwards, which makes uvicorn drop the keep-alive connection, so
    the client's *next* request would fail too.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_wrapper(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:  # noqa: BLE001 - the whole point: nothing escapes as a traceback
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response is out; only closing the connection is left
            await send_error(send, 500, "internal server error; the server log has the details")
