"""Run the inference app under uvicorn: TLS, connection limits and graceful shutdown are uvicorn's."""

from __future__ import annotations

import copy
import ipaddress
import logging
import socket
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from dlbench.errors import UserError
from dlbench.serve.app import create_app
from dlbench.serve.predictor import Predictor
from dlbench.serve.settings import ServeSettings

log = logging.getLogger("dlbench.serve")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _log_config() -> dict:
    """uvicorn's logging setup plus ours; the access log is one bare JSON line per request, on stdout."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["dlbench_json_line"] = {"format": "%(message)s"}
    config["handlers"]["dlbench_access"] = {
        "class": "logging.StreamHandler", "formatter": "dlbench_json_line", "stream": "ext://sys.stdout",
    }
    config["loggers"]["dlbench.serve.access"] = {"handlers": ["dlbench_access"], "level": "INFO", "propagate": False}
    # Server messages (the --no-auth warning, model errors) look like uvicorn's own, on stderr.
    config["loggers"]["dlbench.serve"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def build_server(predictors: list[Predictor], settings: ServeSettings) -> uvicorn.Server:
    """A configured, not yet started uvicorn server (tests run it on a socket of their own)."""
    app = create_app(predictors, settings)
    for path in (settings.ssl_certfile, settings.ssl_keyfile):
        if path is not None and not Path(path).is_file():
            raise UserError(f"TLS file not found: {path}", "give the paths of a PEM certificate and key")
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        limit_concurrency=settings.limit_concurrency,
        # Our AccessLogMiddleware writes one JSON line per request; uvicorn's would be a second.
        access_log=False,
        log_config=_log_config(),
        # On SIGTERM/Ctrl-C uvicorn stops accepting, waits this long for in-flight requests, then
        # runs the lifespan shutdown in which the batch workers drain.
        timeout_graceful_shutdown=settings.request_timeout_s + 5,
        log_level="info",
        server_header=False,  # do not advertise the server software
    )
    # After uvicorn.Config, which sets up logging, so that these warnings are seen.
    if settings.no_auth:
        log.warning(
            "API keys are OFF (--no-auth): anyone who can reach %s:%s can use every model",
            settings.host, settings.port,
        )
    if not _is_loopback(settings.host) and settings.ssl_certfile is None:
        log.warning("serving on %s without TLS: API keys and data cross the network in clear text", settings.host)
    return uvicorn.Server(config)


def run_server(
    predictors: list[Predictor],
    host: str = "127.0.0.1",
    port: int = 8000,
    api_keys_path: Path | str | None = None,
    no_auth: bool = False,
    max_batch_size: int = 64,
    max_batch_delay_ms: float = 5.0,
    max_queue: int = 256,
    request_timeout_s: float = 30.0,
    max_body_bytes: int = 8 * 2**20,
    ssl_certfile: Path | str | None = None,
    ssl_keyfile: Path | str | None = None,
) -> None:
    """Serve `predictors` until interrupted (Ctrl-C / SIGTERM finish in-flight requests first)."""
    settings = ServeSettings(
        host=host, port=port, api_keys_path=api_keys_path, no_auth=no_auth, max_batch_size=max_batch_size,
        max_batch_delay_ms=max_batch_delay_ms, max_queue=max_queue, request_timeout_s=request_timeout_s,
        max_body_bytes=max_body_bytes, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
    )
    server = build_server(predictors, settings)
    # Bound here rather than by uvicorn, which logs and sys.exit(1)s on a taken port: we want the
    # project's one-line UserError (exit code 2) instead.
    sock = bind_socket(host, port)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so, and without
    # it every keep-alive response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}", "pick another --port or --host") from None
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A currently unused TCP port on `host` (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
