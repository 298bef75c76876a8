"""Limits on a live server: body size (413), overload (503 + Retry-After), timeout (504), TLS,
batching across concurrent clients, graceful drain on shutdown, port in use."""

import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.unit.serve.serve_fakes import FakeClassifier, live_server

from dlbench.errors import UserError
from dlbench.serve.server import bind_socket, run_server


def body(n=1):
    return {"inputs": [{"name": "input", "shape": [n, 40], "datatype": "FP32", "data": [0.5] * (40 * n)}]}


def post_many(url, n, **kw):
    with httpx.Client(base_url=url, timeout=10) as c, ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: c.post("/v2/models/classifier/infer", json=body(), **kw), range(n)))


def test_body_too_large_is_413_declared_or_streamed():
    with live_server([FakeClassifier()], no_auth=True, max_body_bytes=2000) as url:
        assert httpx.post(f"{url}/v2/models/classifier/infer", json=body(1)).status_code == 200
        r = httpx.post(f"{url}/v2/models/classifier/infer", json=body(20))
        assert r.status_code == 413 and "limit of 2000 bytes" in r.json()["error"]

        def chunks():  # chunked transfer: no Content-Length to check up front
            for _ in range(10):
                yield b" " * 500

        r = httpx.post(f"{url}/v2/models/classifier/infer", content=chunks())
        assert r.status_code == 413


def test_overload_is_503_with_retry_after_and_memory_stays_bounded():
    slow = FakeClassifier(delay_s=0.3)
    with live_server([slow], no_auth=True, max_batch_size=1, max_queue=1) as url:
        responses = post_many(url, 8)
    codes = sorted(r.status_code for r in responses)
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["Retry-After"] == "1" and "retry" in refused.json()["error"]
    assert len(slow.calls) <= 3  # at most: one running, one queued, one picked up meanwhile


def test_request_timeout_is_504():
    with live_server([FakeClassifier(delay_s=1.0)], no_auth=True, request_timeout_s=0.2) as url:
        r = httpx.post(f"{url}/v2/models/classifier/infer", json=body(), timeout=10)
    assert r.status_code == 504 and "within 0.2 s" in r.json()["error"]


def test_concurrent_clients_are_batched():
    model = FakeClassifier(delay_s=0.05)
    with live_server([model], no_auth=True, max_batch_size=64, max_batch_delay_ms=20) as url:
        responses = post_many(url, 16)
        metrics = httpx.get(f"{url}/metrics").text
    assert all(r.status_code == 200 for r in responses)
    assert sum(model.calls) == 16 and len(model.calls) < 16
    assert "dlbench_batch_size_sum" in metrics


def test_shutdown_finishes_in_flight_requests():
    model = FakeClassifier(delay_s=0.5)
    results = []
    with live_server([model], no_auth=True) as url:
        t = threading.Thread(target=lambda: results.append(httpx.post(f"{url}/v2/models/classifier/infer", json=body(), timeout=10)))
        t.start()
        deadline = time.monotonic() + 5
        while not model.calls and time.monotonic() < deadline:  # wait until it is inside predict
            time.sleep(0.005)
    # live_server has asked uvicorn to exit; the in-flight request must still have completed.
    t.join(5)
    assert results and results[0].status_code == 200


def test_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=30,
    ) if _has_openssl() else None
    if made is None or made.returncode != 0:
        pytest.skip("openssl not available to make a test certificate")
    with live_server([FakeClassifier()], no_auth=True, ssl_certfile=cert, ssl_keyfile=key) as url:
        https = url.replace("http://", "https://")
        r = httpx.post(f"{https}/v2/models/classifier/infer", json=body(), verify=ssl.create_default_context(cafile=str(cert)))
        assert r.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{https}/v2/health/live")  # untrusted certificate: refused by default


def _has_openssl():
    import shutil

    return shutil.which("openssl") is not None


def test_port_in_use_is_a_user_error():
    sock = bind_socket("127.0.0.1", 0)
    sock.listen()
    try:
        with pytest.raises(UserError, match="cannot listen on 127.0.0.1"):
            run_server([FakeClassifier()], port=sock.getsockname()[1], no_auth=True)
    finally:
        sock.close()
