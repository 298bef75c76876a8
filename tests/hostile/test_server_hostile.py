"""Hostile clients against a live server (issue 27): idle and slowloris connections, bodies where
none belong, unauthenticated 8 MB Content-Lengths, slow bodies, oversized headers, megabyte values
meant for the log, and bad `dlbench serve` options.

Every answer is a 4xx (or a silent close of an idle socket), never a 5xx; a client with a key and
the health probes are answered throughout. Attackers connect from their own loopback addresses
(127.0.x.y; Linux routes all of 127/8 to lo) so the per-client cap can tell them from the client
at 127.0.0.1. Loops and waits are bounded; timing bounds are generous (noisy shared machines).
"""

from __future__ import annotations

import io
import logging
import re
import socket
import subprocess
import time
from contextlib import ExitStack, contextmanager

import httpx
import numpy as np
import psutil
import pytest

from tests.unit.serve.serve_fakes import FakeClassifier, FakeTranslator, live_server, make_keys

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
PER_CLIENT = 16
MAX_CONNECTIONS = 150
EIGHT_MB = 8 * 2**20


class LoudTranslator(FakeTranslator):
    """Logs what it was sent, as model code sometimes does: the log must not take it whole."""

    name = "loud"

    def predict(self, inputs, parameters):
        logging.getLogger("dlbench.serve").warning("odd input: %s", inputs["text"][0])
        return super().predict(inputs, parameters)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    keys, key = make_keys(tmp_path_factory.mktemp("keys"))
    with live_server(
        [FakeClassifier(), LoudTranslator()], api_keys_path=keys, header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S, keep_alive_s=1.0, max_connections=MAX_CONNECTIONS,
        max_connections_per_client=PER_CLIENT,
    ) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            yield url, int(url.rsplit(":", 1)[1]), key, client


def connect(port: int, source: str) -> socket.socket:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    except OSError as e:
        if e.errno == 99:  # EADDRNOTAVAIL: only 127.0.0.1 on this loopback (macOS)
            pytest.skip("needs the whole 127/8 on loopback (Linux)")
        raise


@contextmanager
def sockets(port: int, sources: list[str]):
    with ExitStack() as stack:
        socks = []
        for source in sources:
            s = connect(port, source)
            stack.callback(s.close)
            socks.append(s)
        yield socks


def read_until_closed(sock: socket.socket, limit_s: float = 5.0) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as closed)."""
    sock.settimeout(limit_s)
    data = b""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(raw: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def addresses(block: int, clients: int, per_client: int) -> list[str]:
    return [f"127.0.{block}.{c + 1}" for c in range(clients) for _ in range(per_client)]


def infer_ok(client: httpx.Client) -> None:
    body = {"inputs": [{"name": "input", "shape": [1, 40], "datatype": "FP32", "data": [0.5] * 40}]}
    r = client.post("/v2/models/classifier/infer", json=body)
    assert r.status_code == 200, r.text


def health_ok(url: str) -> None:
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert httpx.get(url + path, timeout=10).status_code == 200


def test_idle_connections_leave_health_and_keyed_clients_answered(server):
    url, port, _, client = server
    # 300 silent sockets from 20 addresses: twice the server's connection cap, each address
    # within its own cap. The oldest idle ones make room for new ones (and for us).
    with sockets(port, addresses(1, 20, 15)):
        health_ok(url)
        infer_ok(client)
    metrics = client.get("/metrics").text
    assert re.search(r'dlbench_connections_closed_total\{reason="evicted_idle"\} [1-9]', metrics)


def test_idle_connection_is_closed_after_the_header_timeout(server):
    _, port, _, _ = server
    with sockets(port, ["127.0.2.1"]) as (s,):
        start = time.monotonic()
        assert read_until_closed(s, limit_s=HEADER_TIMEOUT_S + 10) == b""  # nothing was asked: a plain close
        assert time.monotonic() - start < HEADER_TIMEOUT_S + 10


def test_slowloris_headers_get_408_while_health_is_answered(server):
    url, port, _, client = server
    with sockets(port, addresses(3, 10, 2)) as socks:
        for s in socks:
            s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
        answers: dict[int, bytes] = {}
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 10
        while len(answers) < len(socks) and time.monotonic() < deadline:
            for i, s in enumerate(socks):  # one more header line each, the slowloris way
                if i not in answers:
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        answers[i] = read_until_closed(s, 1.0)
            health_ok(url)
            time.sleep(0.2)
    infer_ok(client)
    assert len(answers) == len(socks)
    # An answer the server wrote just before closing may be lost to the reset our next write causes.
    assert {status_of(a) for a in answers.values()} <= {408, None}
    assert any(status_of(a) == 408 for a in answers.values())


def test_connections_over_the_per_client_cap_get_429(server):
    url, port, _, client = server
    with sockets(port, addresses(4, 1, PER_CLIENT)):
        with sockets(port, ["127.0.4.1"]) as (extra,):
            answer = read_until_closed(extra)
        assert status_of(answer) == 429 and b"Retry-After" in answer.replace(b"retry-after", b"Retry-After")
        assert b"too many open connections from your address" in answer
        health_ok(url)  # other addresses are not affected
        infer_ok(client)


@pytest.mark.parametrize("request_head", [
    b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n",
    b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 90) for i in range(400))
    + b"\r\n",
    b"GET /" + b"d" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["one-big-header", "many-headers", "long-url"])
def test_oversized_headers_are_431(server, request_head):
    _, port, _, _ = server
    with sockets(port, ["127.0.5.1"]) as (s,):
        s.sendall(request_head)
        answer = read_until_closed(s)
    assert status_of(answer) == 431 and b"exceed the server limit" in answer


@pytest.mark.parametrize("method,path,length", [
    ("POST", "/v2/health/live", f"Content-Length: {EIGHT_MB}"),
    ("GET", "/v2/health/ready", "Content-Length: 10"),
    ("GET", "/v2/health/live", "Transfer-Encoding: chunked"),
    ("GET", "/v2", f"Content-Length: {EIGHT_MB}"),
    ("POST", "/v2/models/classifier/ready", f"Content-Length: {EIGHT_MB}"),
    ("PUT", "/v2/models/classifier/infer", f"Content-Length: {EIGHT_MB}"),
])
def test_bodies_on_routes_that_take_none_are_refused_unread(server, method, path, length):
    _, port, key, _ = server
    with sockets(port, ["127.0.6.1"]) as (s,):
        # Only the head is sent: the answer must come without the server waiting for the body.
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n{length}\r\n\r\n".encode())
        answer = read_until_closed(s)
    assert status_of(answer) == 413 and b"takes no request body" in answer
    assert b"connection: close" in answer.lower()


def test_unauthenticated_8mb_bodies_are_refused_before_reading_and_memory_stays_flat(server):
    url, port, _, client = server
    me = psutil.Process()
    before = me.memory_info().rss
    heads = [b"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % EIGHT_MB,
             b"POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % EIGHT_MB]
    chunk = b"\0" * 2**16
    with sockets(port, addresses(7, 10, 10)) as socks:  # 100 clients, each holding its request open
        for i, s in enumerate(socks):
            s.sendall(heads[i % 2] + chunk)
        statuses = [status_of(read_until_closed(s)) for s in socks]
        grown = me.memory_info().rss - before
        health_ok(url)
        infer_ok(client)
    assert statuses.count(401) == 50 and statuses.count(413) == 50
    assert grown < 100 * 2**20, f"server grew by {grown / 2**20:.0f} MiB"  # 800 MiB when bodies were buffered


def test_slow_body_with_a_key_gets_408(server):
    _, port, key, client = server
    with sockets(port, ["127.0.8.1"]) as (s,):
        s.sendall(f"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                  "Content-Length: 1000\r\n\r\n{\"inputs\"".encode())
        start = time.monotonic()
        answer = read_until_closed(s, limit_s=BODY_TIMEOUT_S + 10)
    assert status_of(answer) == 408 and b"request body not received within" in answer
    assert time.monotonic() - start < BODY_TIMEOUT_S + 10
    infer_ok(client)


def test_unauthenticated_body_is_not_read_even_with_expect_100_continue(server):
    _, port, _, _ = server
    with sockets(port, ["127.0.8.2"]) as (s,):
        s.sendall(b"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % EIGHT_MB)
        answer = read_until_closed(s)
    assert status_of(answer) == 401 and b"100 Continue" not in answer


def test_megabyte_values_reach_the_logs_clipped(server):
    _, _, _, client = server
    server_log = logging.getLogger("dlbench.serve").handlers[0]
    access_log = logging.getLogger("dlbench.serve.access").handlers[0]
    server_out, access_out = io.StringIO(), io.StringIO()
    old = server_log.setStream(server_out), access_log.setStream(access_out)
    try:
        text = "x" * (5 * 2**20)
        r = client.post("/v2/models/loud/infer", json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]})
        assert r.status_code == 200
        r = client.get("/v2/" + "p" * 20_000)  # a long path: in the access log and the 404 message
        assert r.status_code == 404 and len(r.text) < 5000
        deadline = time.monotonic() + 5  # access lines are written just after the response
        while access_out.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server_log.setStream(old[0])
        access_log.setStream(old[1])
    assert "odd input: xxx" in server_out.getvalue() and "more characters]" in server_out.getvalue()
    assert len(server_out.getvalue()) < 10_000
    lines = access_out.getvalue().splitlines()
    assert len(lines) >= 2 and all(len(line) < 2000 for line in lines)


def test_no_request_was_answered_with_a_5xx(server):
    _, _, _, client = server
    metrics = client.get("/metrics").text
    assert not re.search(r'dlbench_requests_total\{code="5\d\d"', metrics), metrics


# --- `dlbench serve` options: one line, exit code 2, checked before any model loads ----------------

def _pem_pair(tmp, name: str) -> tuple:
    cert, key = tmp / f"{name}-cert.pem", tmp / f"{name}-key.pem"
    try:
        made = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-keyout", str(key), "-out", str(cert)], capture_output=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("openssl is needed to make a test certificate")
    if made.returncode != 0:
        pytest.skip("openssl could not make a test certificate")
    return cert, key


def _not_pem(tmp):
    (tmp / "garbage.pem").write_bytes(np.random.default_rng(0).bytes(2000))
    return tmp / "garbage.pem"


BAD_OPTIONS = {
    "batch-size-0": (lambda tmp: ["--max-batch-size", "0"], "--max-batch-size 0"),
    "queue-0": (lambda tmp: ["--max-queue", "0"], "--max-queue 0"),
    "port-70000": (lambda tmp: ["--port", "70000"], "--port 70000"),
    "timeout-0": (lambda tmp: ["--request-timeout-s", "0"], "--request-timeout-s 0"),
    "timeout-nan": (lambda tmp: ["--request-timeout-s", "nan"], "--request-timeout-s nan"),
    "delay-negative": (lambda tmp: ["--max-batch-delay-ms", "-1"], "--max-batch-delay-ms -1"),
    "body-0": (lambda tmp: ["--max-body-bytes", "0"], "--max-body-bytes 0"),
    "header-timeout-0": (lambda tmp: ["--header-timeout-s", "0"], "--header-timeout-s 0"),
    "connections-0": (lambda tmp: ["--max-connections-per-client", "0"], "--max-connections-per-client 0"),
    "cert-without-key": (lambda tmp: ["--ssl-certfile", _pem_pair(tmp, "a")[0]], "--ssl-certfile needs --ssl-keyfile"),
    "key-without-cert": (lambda tmp: ["--ssl-keyfile", _not_pem(tmp)], "--ssl-keyfile needs --ssl-certfile"),
    "key-not-pem": (lambda tmp: ["--ssl-certfile", _pem_pair(tmp, "a")[0], "--ssl-keyfile", _not_pem(tmp)],
                    "is not a PEM private key"),
    "cert-not-pem": (lambda tmp: ["--ssl-certfile", _not_pem(tmp), "--ssl-keyfile", _pem_pair(tmp, "a")[1]],
                     "is not a PEM certificate"),
    "key-of-another-cert": (lambda tmp: ["--ssl-certfile", _pem_pair(tmp, "a")[0], "--ssl-keyfile", _pem_pair(tmp, "b")[1]],
                            "is not the key of"),
    "cert-missing": (lambda tmp: ["--ssl-certfile", tmp / "none.pem", "--ssl-keyfile", tmp / "none.pem"], "no such file"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_serve_options_are_one_line_and_exit_2(run_cli, tmp_path, case):
    make, expected = BAD_OPTIONS[case]
    # The run directory does not exist: the option must be refused before a model is looked for.
    code, out, err = run_cli("serve", "run", tmp_path / "no-such-run", "--no-auth", *make(tmp_path))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert "Traceback" not in err + out and "no-such-run" not in err
