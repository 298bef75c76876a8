"""Live model management against a real server: tritonclient.http's own repository calls (index, load,
unload), integrity-checked loads that leave the served version untouched, admin-only access, the audit log,
and a version swap under concurrent clients with no failed request."""

import json
import shutil
import threading

import httpx
import numpy as np
import pytest

import dlbench
from dlbench.serve.audit import read_audit
from dlbench.serve.auth import add_key
from dlbench.serve.runs import load_predictor
from tests.conftest import tiny
from tests.unit.serve.serve_fakes import live_server

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory, trained_run):
    """Two versions of one model (another seed), laid out as a Triton model repository."""
    root = tmp_path_factory.mktemp("repo")
    other = root / "other-run"
    dlbench.train(tiny(seed=1), run_dir=other)
    repo = root / "models"
    shutil.copytree(trained_run, repo / "cnn" / "1")
    return repo, other


@pytest.fixture
def server(runs, tmp_path):
    repo, _ = runs
    keys = tmp_path / "keys.json"
    admin, user = add_key(keys, "ops", role="admin"), add_key(keys, "app")
    audit = tmp_path / "audit.jsonl"
    with live_server([load_predictor(repo / "cnn" / "1", "cnn", "1")], api_keys_path=keys, audit_log=audit,
                     model_repository=repo) as url:
        yield url, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {user}"}, audit


def _infer(url, headers, version=None):
    x = np.random.default_rng(0).normal(size=(2, 1, 40)).astype(np.float32)
    path = f"/v2/models/cnn/versions/{version}/infer" if version else "/v2/models/cnn/infer"
    return httpx.post(url + path, headers=headers, json={
        "inputs": [{"name": "input", "shape": [2, 1, 40], "datatype": "FP32", "data": x.ravel().tolist()}]})


def test_tritonclient_index_load_unload(server, runs):
    url, admin, user, audit = server
    _, other = runs
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    assert "model_repository" in client.get_server_metadata(headers=user)["extensions"]
    assert client.get_model_repository_index(headers=admin) == [
        {"name": "cnn", "version": "1", "state": "READY", "reason": ""}]
    # a second version next to the first, from a run directory given as the load's config
    config = json.dumps({"versions": {"1": str(runs[0] / "cnn" / "1"), "2": str(other)}})
    client.load_model("cnn", headers=admin, config=config)
    assert [e["version"] for e in client.get_model_repository_index(headers=admin)] == ["1", "2"]
    assert client.is_model_ready("cnn", "2", headers=user)
    assert _infer(url, user).json()["model_version"] == "2"  # the latest answers the unversioned URL
    client.unload_model("cnn", headers=admin)
    assert not client.is_model_ready("cnn", headers=user)
    index = client.get_model_repository_index(headers=admin)
    assert {(e["version"], e["state"], e["reason"]) for e in index} == {
        ("1", "UNAVAILABLE", "unloaded"), ("2", "UNAVAILABLE", "unloaded")}
    client.load_model("cnn", headers=admin)  # no config: the repository directory, which holds cnn/1 only
    assert client.get_model_repository_index(headers=admin) == [
        {"name": "cnn", "version": "1", "state": "READY", "reason": ""}]
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        client.load_model("nope", headers=admin)
    client.close()
    records = read_audit(audit)
    assert [r["action"] for r in records] == ["index", "load", "index", "unload", "index", "load", "index", "load"]
    assert all(r["key"] == "ops" and r["role"] == "admin" for r in records)
    assert records[1]["result"] == "ok" and records[1]["loaded"] == ["2"] and records[1]["kept"] == ["1"]
    assert records[-1]["status"] == 400 and "unknown model 'nope'" in records[-1]["result"]
    text = audit.read_text()
    assert admin["Authorization"].split()[1] not in text and "Bearer" not in text


def test_a_damaged_run_is_refused_and_the_served_version_stays(server, runs, tmp_path):
    url, admin, user, audit = server
    bad = tmp_path / "bad"
    shutil.copytree(runs[1], bad)
    weights = bad / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    r = httpx.post(f"{url}/v2/repository/models/cnn/load", headers=admin,
                   json={"parameters": {"config": json.dumps({"versions": {"2": str(bad)}})}})
    assert r.status_code == 400 and "model.safetensors" in r.json()["error"], r.text
    assert _infer(url, user).json()["model_version"] == "1"
    assert httpx.post(f"{url}/v2/repository/index", headers=admin).json()[0]["state"] == "READY"
    loads = [r for r in read_audit(audit) if r["action"] == "load"]
    assert len(loads) == 1 and loads[0]["status"] == 400 and "model.safetensors" in loads[0]["result"]


def test_roles_and_routing(server, runs):
    url, admin, user, audit = server
    for path in ("/v2/repository/index", "/v2/repository/models/cnn/unload", "/v2/repository/models/cnn/routing"):
        assert httpx.post(url + path, headers=user).status_code == 403
        assert httpx.post(url + path).status_code == 401
    assert "admin key" in httpx.post(url + "/v2/repository/index", headers=user).json()["error"]
    assert read_audit(audit)[0] == {**read_audit(audit)[0], "key": "app", "status": 403}
    load = {"parameters": {"config": json.dumps({"versions": {"1": str(runs[0] / "cnn" / "1"), "2": str(runs[1])}})}}
    assert httpx.post(f"{url}/v2/repository/models/cnn/load", headers=admin, json=load).status_code == 200
    # rollback: version 1 answers the unversioned URL although 2 is the latest
    r = httpx.post(f"{url}/v2/repository/models/cnn/routing", headers=admin, json={"default": "1"})
    assert r.status_code == 200 and r.json()["answers_unversioned"] == "1"
    assert {_infer(url, user).json()["model_version"] for _ in range(5)} == {"1"}
    assert _infer(url, user, version="2").json()["model_version"] == "2"  # a pinned URL still gets its version
    r = httpx.post(f"{url}/v2/repository/models/cnn/routing", headers=admin, json={"shadow": "9"})
    assert r.status_code == 400 and "no version '9'" in r.json()["error"]
    r = httpx.post(f"{url}/v2/repository/models/cnn/routing", headers=admin, json={"shadow": "2"})
    assert r.status_code == 200
    answers = [_infer(url, user).json()["model_version"] for _ in range(6)]
    assert answers == ["1"] * 6  # the shadow's answers are never returned
    metrics = httpx.get(f"{url}/metrics", headers=user).text
    assert 'dlbench_version_requests_total{model="cnn",route="default",version="1"}' in metrics
    assert 'route="shadow",version="2"' in metrics and "dlbench_shadow_rows_total" in metrics


def test_swap_under_load_fails_no_request(server, runs):
    """32 clients keep sending while the model is reloaded with a new version and the old one dropped."""
    url, admin, user, _ = server
    stop, failures, versions = threading.Event(), [], set()

    def client():
        with httpx.Client(headers=user, timeout=30) as c:
            while not stop.is_set():
                r = c.post(f"{url}/v2/models/cnn/infer", json={
                    "inputs": [{"name": "input", "shape": [1, 1, 40], "datatype": "FP32", "data": [0.1] * 40}]})
                if r.status_code != 200:
                    failures.append(r.status_code)
                else:
                    versions.add(r.json()["model_version"])

    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    try:
        for versions_now in ({"2": str(runs[1])}, {"1": str(runs[0] / "cnn" / "1")}):
            r = httpx.post(f"{url}/v2/repository/models/cnn/load", headers=admin, timeout=60,
                           json={"parameters": {"config": json.dumps({"versions": versions_now})}})
            assert r.status_code == 200, r.text
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [] and versions == {"1", "2"}
