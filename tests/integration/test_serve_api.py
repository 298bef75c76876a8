"""The v2 protocol end to end: a real uvicorn server on loopback, httpx as the client."""

import json
import time

import httpx
import pytest

from tests.unit.serve.serve_fakes import (
    BrokenPredictor, FakeClassifier, FakeGenerator, FakeRegressor, FakeTranslator, captured, live_server, make_keys,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    keys, key = make_keys(tmp_path_factory.mktemp("keys"))
    models = [FakeClassifier(version="1"), FakeClassifier(version="2", offset=100), FakeRegressor(),
              FakeTranslator(), FakeGenerator(), BrokenPredictor()]
    with live_server(models, api_keys_path=keys) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
            c.key = key
            yield c


def infer(client, model, inputs, **extra):
    return client.post(f"/v2/models/{model}/infer", json={"inputs": inputs, **extra})


def x40(n=2, hot=3):
    return {"name": "input", "shape": [n, 40], "datatype": "FP32",
            "data": [1.0 if j == hot else 0.0 for _ in range(n) for j in range(40)]}


def test_health_and_server_metadata(client):
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    meta = client.get("/v2").json()
    assert meta["name"] == "dlbench" and isinstance(meta["version"], str) and meta["extensions"] == ["binary_tensor_data", "model_repository"]


def test_model_metadata_follows_the_spec(client):
    meta = client.get("/v2/models/classifier").json()
    assert meta == {
        "name": "classifier", "versions": ["1", "2"], "platform": "pytorch",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 40]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
                    {"name": "label", "datatype": "INT64", "shape": [-1]}],
    }
    assert client.get("/v2/models/classifier/versions/1").json()["name"] == "classifier"
    assert client.get("/v2/models/classifier/ready").status_code == 200
    assert client.get("/v2/models/classifier/versions/2/ready").status_code == 200
    gen = client.get("/v2/models/generator").json()
    assert [i["name"] for i in gen["inputs"]] == ["count", "labels", "seed"]


def test_classifier_infer_echoes_id_and_returns_all_outputs(client):
    r = infer(client, "classifier/versions/1", [x40(2, hot=3)], id="req-42")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "req-42" and body["model_name"] == "classifier" and body["model_version"] == "1"
    outs = {o["name"]: o for o in body["outputs"]}
    assert outs["label"] == {"name": "label", "shape": [2], "datatype": "INT64", "data": [3, 3]}
    assert outs["probabilities"]["shape"] == [2, 10] and len(outs["probabilities"]["data"]) == 20


def test_requested_outputs_subset_and_nested_data(client):
    nested = x40(1, hot=5)
    nested["data"] = [nested["data"]]
    r = infer(client, "classifier/versions/1", [nested], outputs=[{"name": "label"}])
    assert r.status_code == 200, r.text
    assert [o["name"] for o in r.json()["outputs"]] == ["label"] and r.json()["outputs"][0]["data"] == [5]
    assert "id" not in r.json()


def test_versions_side_by_side_unversioned_is_latest(client):
    def label(path):
        r = infer(client, path, [x40(1, hot=2)], outputs=[{"name": "label"}])
        return r.json()["model_version"], r.json()["outputs"][0]["data"][0]

    assert label("classifier/versions/1") == ("1", 2)
    assert label("classifier/versions/2") == ("2", 102)
    assert label("classifier") == ("2", 102)


def test_regressor_translator_generator(client):
    r = infer(client, "regressor", [{"name": "features", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6.5]}])
    assert r.json()["outputs"] == [{"name": "value", "shape": [2, 1], "datatype": "FP32", "data": [6.0, 15.5]}]
    r = infer(client, "translator", [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a b", "c d e"]}],
              parameters={"upper": True})
    assert r.json()["outputs"][0]["data"] == ["B A", "E D C"] and r.json()["outputs"][0]["datatype"] == "BYTES"
    inputs = [{"name": "count", "shape": [1], "datatype": "INT32", "data": [3]},
              {"name": "labels", "shape": [3], "datatype": "INT64", "data": [0, 1, 2]},
              {"name": "seed", "shape": [1], "datatype": "INT64", "data": [7]}]
    r = infer(client, "generator", inputs)
    assert r.status_code == 200 and r.json()["outputs"][0]["shape"] == [3, 40]
    assert infer(client, "generator", inputs).json() == r.json()  # same seed, same samples
    assert infer(client, "generator", inputs[:2]).status_code == 200  # seed is optional


BAD = [
    ("wrong tensor name", "classifier", [dict(x40(), name="pixels")], "no input 'pixels'; expected inputs: input (FP32 [-1, 40])"),
    ("missing input", "generator", [{"name": "count", "shape": [1], "datatype": "INT32", "data": [1]}], "missing input(s)"),
    ("shape product", "classifier", [dict(x40(), shape=[3, 40])], "needs 120 values, data has 80"),
    ("wrong datatype", "classifier", [dict(x40(), datatype="FP64")], "expected datatype FP32, got FP64"),
    ("unknown datatype", "classifier", [dict(x40(), datatype="FP128")], "inputs.0.datatype"),
    ("data not matching", "classifier", [dict(x40(1), data=["a"] * 40, shape=[1, 40])], "FP32 expects JSON numbers"),
    ("shape vs model", "classifier", [dict(x40(1), shape=[2, 20])], "expected shape [-1, 40]"),
    ("negative dim", "classifier", [dict(x40(1), shape=[-1, 40])], "inputs.0.shape.0"),
    ("duplicate input", "classifier", [x40(), x40()], "given twice"),
    ("predictor UserError", "generator", [{"name": "count", "shape": [1], "datatype": "INT32", "data": [1000]},
                                          {"name": "labels", "shape": [1], "datatype": "INT64", "data": [0]}], "count must be in 1..64"),
]


@pytest.mark.parametrize("case, model, inputs, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_400_saying_what_was_expected(client, case, model, inputs, expected):
    r = infer(client, model, inputs)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error"} and expected in r.json()["error"]


def test_bad_bodies_and_outputs(client):
    r = client.post("/v2/models/classifier/infer", content=b'{"inputs": [', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post("/v2/models/classifier/infer", content=b'[1, 2]', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = client.post("/v2/models/classifier/infer", json={"inputs": []})
    assert r.status_code == 400 and "inputs" in r.json()["error"]
    r = infer(client, "classifier", [x40()], outputs=[{"name": "logits"}])
    assert r.status_code == 400 and "available outputs: probabilities, label" in r.json()["error"]
    # No Content-Type at all, as tritonclient sends it: still parsed as JSON.
    r = client.post("/v2/models/classifier/infer", content=json.dumps({"inputs": [x40()]}).encode())
    assert r.status_code == 200, r.text


def test_unknown_model_version_or_endpoint_is_404(client):
    r = client.get("/v2/models/nope")
    assert r.status_code == 404 and "unknown model 'nope'" in r.json()["error"]
    r = infer(client, "classifier/versions/9", [x40()])
    assert r.status_code == 404 and "available: 1, 2" in r.json()["error"]
    assert client.get("/v2/models/nope/ready").status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_model_bug_is_a_one_line_500_without_internals(client):
    r = infer(client, "broken", [{"name": "features", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}])
    assert r.status_code == 500
    assert r.json() == {"error": "internal server error; the server log has the details"}
    assert client.get("/v2").status_code == 200  # and the keep-alive connection survives it


def test_openapi_describes_the_protocol(client):
    schema = client.get("/openapi.json").json()
    assert "/v2/models/{name}/infer" in schema["paths"]
    components = schema["components"]["schemas"]
    assert {"InferenceRequest", "InferenceResponse", "ModelMetadata", "ErrorResponse"} <= set(components)
    assert set(components["RequestInput"]["required"]) == {"name", "shape", "datatype"}
    assert "requestBody" in schema["paths"]["/v2/models/{name}/infer"]["post"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_metrics_count_requests_errors_and_batches(client):
    infer(client, "regressor", [{"name": "features", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}])
    infer(client, "regressor", [{"name": "nope", "shape": [1], "datatype": "FP64", "data": [1]}])
    text = client.get("/metrics").text
    assert 'dlbench_requests_total{code="200",endpoint="infer",model="regressor"}' in text
    assert 'dlbench_request_errors_total{code="400",endpoint="infer",model="regressor"}' in text
    assert 'dlbench_batch_size_count{model="regressor"}' in text
    assert 'dlbench_request_latency_seconds_bucket' in text and 'dlbench_queue_depth{model="classifier"}' in text


def test_access_log_is_json_per_request_and_never_has_the_key(client):
    with captured("dlbench.serve.access") as records:
        infer(client, "classifier", [x40(1)])
        client.get("/v2", headers={"Authorization": "Bearer wrong-key-123"})
        # The line is written after the response is sent, so it may trail the client a little.
        deadline = time.monotonic() + 5
        while len(records) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    text = "\n".join(r.getMessage() for r in records)
    lines = [json.loads(r.getMessage()) for r in records]
    ok = [line for line in lines if line["path"] == "/v2/models/classifier/infer"][-1]
    assert ok["status"] == 200 and ok["model"] == "classifier" and ok["batch_size"] == 1
    assert {"time", "method", "latency_ms"} <= set(ok)
    assert any(line["status"] == 401 for line in lines)
    assert client.key not in text and "wrong-key-123" not in text
