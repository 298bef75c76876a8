"""Run the inference app under uvicorn: TLS, keep-alive and graceful shutdown are uvicorn's; the
connection guards uvicorn lacks (header deadline, per-client cap) come from connections.py."""

from __future__ import annotations

import ipaddress
import logging
import resource
import socket

import uvicorn

from dlbench.errors import UserError
from dlbench.serve.app import create_app
from dlbench.serve.connections import ConnectionGuard, protocol_class
from dlbench.serve.logs import log_config
from dlbench.serve.predictor import Predictor
from dlbench.serve.settings import ServeSettings

log = logging.getLogger("dlbench.serve")

SPARE_FILES = 64  # descriptors kept for everything but client sockets: model files, logs, the listener


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _connections_that_fit(wanted: int) -> int:
    """`wanted`, or fewer if the process may not open that many files.

    The soft limit is raised up to the hard one first (many systems start at 1024); beyond it,
    accept() would fail with EMFILE, which asyncio answers by pausing all accepts, health included.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < need:
        raised = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= need:
        return wanted
    fit = max(1, soft - SPARE_FILES)
    log.warning("--max-connections %d lowered to %d: this process may open only %d files (ulimit -n)", wanted, fit, soft)
    return fit


def build_server(predictors: list[Predictor], settings: ServeSettings) -> uvicorn.Server:
    """A configured, not yet started uvicorn server (tests run it on a socket of their own)."""
    app = create_app(predictors, settings)
    metrics = app.state.metrics
    guard = ConnectionGuard(
        max_connections=settings.max_connections,
        max_per_client=settings.max_connections_per_client,
        header_timeout_s=settings.header_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        on_close=metrics.connection_closed,
    )
    metrics.open_connections.set_function(lambda: guard.open)
    config = uvicorn.Config(
        app,
        # uvicorn[standard] brings httptools, which "auto" would pick too; this is its protocol
        # with the guards added (they hook into its parser callbacks).
        http=protocol_class(guard),
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        # Off: it counts idle connections as load, so idle sockets made every request a 503.
        # ConnectionGuard caps connections instead (one request in flight per connection).
        limit_concurrency=None,
        timeout_keep_alive=settings.keep_alive_s,
        ws="none",  # no WebSocket routes: no upgrade path to another protocol's limits
        # Our AccessLogMiddleware writes one JSON line per request; uvicorn's would be a second.
        access_log=False,
        log_config=log_config(),
        # On SIGTERM/Ctrl-C uvicorn stops accepting, waits this long for in-flight requests, then
        # runs the lifespan shutdown in which the batch workers drain.
        timeout_graceful_shutdown=settings.request_timeout_s + 5,
        log_level="info",
        server_header=False,  # do not advertise the server software
    )
    # After uvicorn.Config, which sets up logging, so that these warnings are seen.
    guard.max_connections = _connections_that_fit(settings.max_connections)
    if settings.no_auth:
        log.warning(
            "API keys are OFF (--no-auth): anyone who can reach %s:%s can use every model",
            settings.host, settings.port,
        )
    if not _is_loopback(settings.host) and settings.ssl_certfile is None:
        log.warning("serving on %s without TLS: API keys and data cross the network in clear text", settings.host)
    return uvicorn.Server(config)


def run_server(predictors: list[Predictor], settings: ServeSettings | None = None,
               families: dict[tuple[str, str], str] | None = None, **options) -> None:
    """Serve `predictors` until interrupted (Ctrl-C / SIGTERM finish in-flight requests first).

    Give `settings`, or ServeSettings fields as keywords (host, port, api_keys_path, no_auth,
    max_batch_size, ...); a bad value is a UserError naming its flag. `families`: (name, version) ->
    model family, for the start-up lines.
    """
    settings = settings or ServeSettings.from_options(**options)
    server = build_server(predictors, settings)
    # Bound here rather than by uvicorn, which logs and sys.exit(1)s on a taken port: we want the
    # project's one-line UserError (exit code 2) instead.
    sock = bind_socket(settings.host, settings.port)
    for line in startup_lines(predictors, settings, sock.getsockname()[1], families or {}):
        log.info("%s", line)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def base_urls(host: str, port: int, tls: bool) -> list[str]:
    """Where clients reach the server: the bound address, or for a wildcard bind this machine's name and loopback."""
    scheme = "https" if tls else "http"
    if host in ("0.0.0.0", "::", ""):
        hosts = [socket.gethostname(), "127.0.0.1"]
    else:
        hosts = [f"[{host}]" if ":" in host else host]
    return [f"{scheme}://{h}:{port}" for h in hosts]


def startup_lines(predictors: list[Predictor], settings: ServeSettings, port: int,
                  families: dict[tuple[str, str], str]) -> list[str]:
    """What a person starting the server needs first: where it listens, which models it serves, where the
    API is described (uvicorn prints no URL when it is handed a bound socket)."""
    urls = base_urls(settings.host, port, settings.ssl_certfile is not None)
    keys = "without API keys" if settings.no_auth else "API key required (Authorization: Bearer KEY)"
    lines = [f"serving {len(predictors)} model{'s' * (len(predictors) != 1)} at {' and '.join(urls)}; {keys}; "
             "guide: docs/serving.md"]
    for p in predictors:
        family = families.get((p.name, p.version), p.platform)
        base = f"{urls[0]}/v2/models/{p.name}/versions/{p.version}"
        lines.append(f"  model {p.name} version {p.version} ({family}): POST {base}/infer")
        if hasattr(p, "options"):  # a text generator: the generate extension too (serve/generate.py)
            lines.append(f"    text generation: POST {base}/generate, or {base}/generate_stream (server-sent events)")
    return lines


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
