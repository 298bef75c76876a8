"""API keys on a live server: required everywhere but the health probes, revocable while running."""

import time

import httpx
import pytest

from tests.unit.serve.serve_fakes import FakeRegressor, live_server

from dlbench.errors import UserError
from dlbench.serve.auth import add_key, revoke_key
from dlbench.serve import server as server_module
from dlbench.serve.server import build_server
from dlbench.serve.settings import ServeSettings

BODY = {"inputs": [{"name": "features", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "keys.json"
    alice, bob = add_key(keys, "alice"), add_key(keys, "bob")
    with live_server([FakeRegressor()], api_keys_path=keys) as url:
        yield url, keys, alice, bob


def test_health_needs_no_key_everything_else_does(server):
    url, _, _, _ = server
    assert httpx.get(f"{url}/v2/health/live").status_code == 200
    assert httpx.get(f"{url}/v2/health/ready").status_code == 200
    for method, path in [("GET", "/v2"), ("GET", "/v2/models/regressor"), ("POST", "/v2/models/regressor/infer"),
                         ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/v2/models/regressor/ready"),
                         ("GET", "/no/such/path")]:
        r = httpx.request(method, url + path, json=BODY if method == "POST" else None)
        assert r.status_code == 401, (method, path)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "missing API key" in r.json()["error"]


def test_right_key_either_header(server):
    url, _, alice, _ = server
    r = httpx.post(f"{url}/v2/models/regressor/infer", json=BODY, headers={"Authorization": f"Bearer {alice}"})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{url}/v2/models/regressor/infer", json=BODY, headers={"X-API-Key": alice})
    assert r.status_code == 200, r.text
    assert httpx.get(f"{url}/v2", headers={"authorization": f"bearer {alice}"}).status_code == 200


def test_wrong_key_is_401(server):
    url, _, alice, _ = server
    for headers in [{"Authorization": f"Bearer {alice}x"}, {"Authorization": "Bearer dlb_guess"},
                    {"X-API-Key": "nope"}, {"Authorization": f"Basic {alice}"}]:
        r = httpx.get(f"{url}/v2", headers=headers)
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers, headers


def test_revoked_key_is_refused_without_restart(server):
    url, keys, _, bob = server
    assert httpx.get(f"{url}/v2", headers={"Authorization": f"Bearer {bob}"}).status_code == 200
    time.sleep(0.01)
    revoke_key(keys, "bob")
    r = httpx.get(f"{url}/v2", headers={"Authorization": f"Bearer {bob}"})
    assert r.status_code == 401 and "invalid or revoked" in r.json()["error"]


def test_no_auth_only_when_asked_and_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBENCH_API_KEYS", str(tmp_path / "none.json"))
    with pytest.raises(UserError, match="no active API keys"):
        build_server([FakeRegressor()], ServeSettings())
    # Recorded at the call: uvicorn's logging setup replaces any handler a test could attach.
    warnings = []
    monkeypatch.setattr(server_module.log, "warning", lambda msg, *a: warnings.append(msg % a))
    with live_server([FakeRegressor()], no_auth=True) as url:
        assert httpx.post(f"{url}/v2/models/regressor/infer", json=BODY).status_code == 200
    assert any("API keys are OFF" in w for w in warnings)
