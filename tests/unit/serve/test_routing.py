"""Routing between versions: canary shares within tolerance, shadow answers compared and logged but never
returned, per-version metrics, and the routing API's checks (admin only, audited, unknown versions refused)."""

import json
import random
import time

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from dlbench.errors import UserError
from dlbench.serve.audit import read_audit
from dlbench.serve.auth import add_key
from dlbench.serve.routing import Route, Routing, compare_outputs, parse_route
from tests.unit.serve.serve_fakes import FakeClassifier, FakeTranslator, captured, live_server


class FailingShadow(FakeClassifier):
    def predict(self, inputs, parameters):
        raise RuntimeError("shadow blew up")


def test_canary_share_over_many_picks():
    routing = Routing(CollectorRegistry(), rng=random.Random(0))
    with pytest.raises(UserError, match="needs another default"):  # 2 is the highest: it would get everything
        routing.set("m", Route(canary="2", canary_percent=10), ["1", "2"], lambda v: ())
    routing.set("m", Route(default="1", canary="2", canary_percent=10), ["1", "2"], lambda v: ())
    picks = [routing.pick("m", ["1", "2"]) for _ in range(20_000)]
    share = sum(v == "2" for v, _ in picks) / len(picks)
    assert abs(share - 0.10) < 0.01  # binomial sd is 0.002: five of them
    assert {r for v, r in picks if v == "2"} == {"canary"} and {r for v, r in picks if v == "1"} == {"default"}
    routing.set("m", Route(default="1"), ["1", "2"], lambda v: ())
    assert {routing.pick("m", ["1", "2"]) for _ in range(100)} == {("1", "default")}


def test_route_changes_are_checked():
    current = Route(canary="2", canary_percent=10)
    assert parse_route({"shadow": "3"}, current) == Route(canary="2", canary_percent=10.0, shadow="3")
    assert parse_route({"canary": None}, current) == Route()  # ending the canary resets its share
    for body, message in [({"canary": "2"}, "needs canary_percent"), ({"canary_percent": 150}, "0 to 100"),
                          ({"weights": 1}, "unknown routing field"), ({"default": [1]}, "a version"), ([], "JSON object")]:
        with pytest.raises(UserError, match=message):
            parse_route(body, Route())
    routing = Routing(CollectorRegistry())
    with pytest.raises(UserError, match="no version '3'"):
        routing.set("m", Route(shadow="3"), ["1", "2"], lambda v: ())
    with pytest.raises(UserError, match="takes other inputs"):
        routing.set("m", Route(default="1", canary="2", canary_percent=5), ["1", "2"], lambda v: v)
    routing.set("m", Route(default="1", shadow="2"), ["1", "2"], lambda v: ())
    assert routing.forget("m", ["1"]) == ["shadow 2"] and routing.route("m") == Route(default="1")


def test_compare_outputs():
    ours = {"label": np.array([1, 2, 3]), "probabilities": np.array([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])}
    theirs = {"label": np.array([1, 0, 3]), "probabilities": np.array([[0.5, 0.5], [0.3, 0.7], [1.0, 0.0]])}
    rows, agree, diffs = compare_outputs(ours, theirs)
    assert (rows, agree) == (3, 2) and diffs["probabilities"] == pytest.approx(0.1)
    assert compare_outputs({"value": np.array([[1.0], [2.0]])}, {"value": np.array([[1.0], [2.5]])})[:2] == (2, 1)


@pytest.fixture
def server(tmp_path):
    keys = tmp_path / "keys.json"
    admin, user = add_key(keys, "ops", role="admin"), add_key(keys, "app")
    models = [FakeClassifier(version="1"), FakeClassifier(version="2", offset=100), FailingShadow(version="0"),
              FakeTranslator()]
    with live_server(models, api_keys_path=keys, audit_log=tmp_path / "audit.jsonl") as url:
        yield url, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {user}"}, tmp_path / "audit.jsonl"


def _labels(c: httpx.Client, url: str, n: int, rows: int = 1) -> list[int]:
    x = np.zeros((rows, 40), dtype=np.float32)
    x[:, 3] = 1
    body = {"inputs": [{"name": "input", "shape": [rows, 40], "datatype": "FP32", "data": x.ravel().tolist()}]}
    out = []
    for _ in range(n):
        r = c.post(f"{url}/v2/models/classifier/infer", json=body)
        assert r.status_code == 200, r.text
        out.append(r.json()["outputs"][1]["data"][0])
    return out


def test_canary_and_shadow_on_a_live_server(server):
    url, admin, user, audit = server
    route = f"{url}/v2/repository/models/classifier/routing"
    with httpx.Client(headers=user) as c:
        assert set(_labels(c, url, 5)) == {103}  # no routing: the highest version
        assert httpx.post(route, headers=user, json={"default": "1"}).status_code == 403
        assert httpx.post(route, headers=admin, json={"default": "1", "canary": "2", "canary_percent": 30}).status_code == 200
        labels = _labels(c, url, 200)
        share = labels.count(103) / len(labels)
        assert set(labels) == {3, 103} and 0.2 < share < 0.4  # 30 % +- 3 sd
        r = httpx.post(route, headers=admin, json={"canary": None, "shadow": "2"})
        assert r.json() == {"model": "classifier", "versions": ["0", "1", "2"], "default": "1", "canary": None,
                            "canary_percent": 0.0, "shadow": "2", "answers_unversioned": "1"}
        with captured("dlbench.serve.shadow") as records:
            assert set(_labels(c, url, 20, rows=2)) == {3}  # shadow answers (103) are never returned
            time.sleep(0.3)
            httpx.post(route, headers=admin, json={"shadow": "0"})
            assert set(_labels(c, url, 10)) == {3}  # a failing shadow never touches the client
            time.sleep(0.3)
        lines = [json.loads(r.getMessage()) for r in records]
        compared = [x for x in lines if x["shadow"] == "2"]
        assert len(compared) == 20 and all(x["rows"] == 2 and x["agree"] == 0 and x["answered_by"] == "1" for x in compared)
        assert sum("shadow blew up" in x.get("error", "") for x in lines) == 10
        metrics = c.get(f"{url}/metrics").text
    assert 'dlbench_shadow_rows_total{model="classifier",outcome="differ",version="2"} 40.0' in metrics
    assert 'dlbench_shadow_errors_total{model="classifier",version="0"} 10.0' in metrics
    assert 'dlbench_version_requests_total{model="classifier",route="canary",version="2"}' in metrics
    assert 'dlbench_version_requests_total{model="classifier",route="shadow",version="2"} 20.0' in metrics
    actions = [(r["key"], r["action"], r["status"]) for r in read_audit(audit)]
    assert actions == [("app", "refused", 403)] + [("ops", "routing.set", 200)] * 3


def test_route_command(server, tmp_path):
    from typer.testing import CliRunner

    from dlbench.cli.serve import app

    url, admin, user, _ = server
    (tmp_path / "admin.key").write_text(admin["Authorization"].split()[1] + "\n")
    (tmp_path / "user.key").write_text(user["Authorization"].split()[1] + "\n")
    run = lambda *a: CliRunner().invoke(app, ["route", "classifier", "--url", url, *a])  # noqa: E731
    r = run("--key-file", str(tmp_path / "admin.key"), "--default", "1", "--canary", "2", "--percent", "5")
    assert r.exit_code == 0 and "-> version 1; canary 2 (5 %); shadow none; versions 0, 1, 2" in r.stdout
    r = run("--key-file", str(tmp_path / "admin.key"), "--clear")
    assert r.exit_code == 0 and "-> version 2; canary none" in r.stdout
    r = run("--key-file", str(tmp_path / "user.key"), "--default", "1")
    # the sub-app raises; dlbench's main turns a UserError into one line and exit 2
    assert isinstance(r.exception, UserError) and "answered 403" in str(r.exception) and "admin key" in str(r.exception)


def test_expired_keys_and_no_auth(tmp_path):
    from datetime import datetime, timedelta, timezone

    keys = tmp_path / "keys.json"
    old = add_key(keys, "old", role="admin", expires=datetime.now(timezone.utc) + timedelta(seconds=1))
    add_key(keys, "spare")
    time.sleep(1.1)
    with live_server([FakeClassifier()], api_keys_path=keys) as url:
        r = httpx.post(f"{url}/v2/repository/index", headers={"Authorization": f"Bearer {old}"})
        assert r.status_code == 401 and "expired" in r.json()["error"]
    with live_server([FakeClassifier()], no_auth=True) as url:
        r = httpx.post(f"{url}/v2/repository/index")
        assert r.status_code == 403 and "--no-auth" in r.json()["error"]
        assert httpx.get(f"{url}/v2/models/classifier").status_code == 200
