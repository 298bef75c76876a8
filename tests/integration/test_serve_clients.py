"""Standard clients against the live server: raw binary-extension requests, and tritonclient's
HTTP client unchanged (defaults included: it sends and asks for binary tensors)."""

import json
import struct

import httpx
import numpy as np
import pytest

from tests.unit.serve.serve_fakes import FakeClassifier, FakeTranslator, live_server, make_keys


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    keys, key = make_keys(tmp_path_factory.mktemp("keys"))
    with live_server([FakeClassifier(), FakeTranslator()], api_keys_path=keys) as url:
        yield url, key


def test_binary_request_and_response_over_http(server):
    url, key = server
    x = np.zeros((2, 40), dtype=np.float32)
    x[0, 4] = x[1, 7] = 1
    head = json.dumps({
        "inputs": [{"name": "input", "shape": [2, 40], "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}],
        "outputs": [{"name": "label", "parameters": {"binary_data": True}}, {"name": "probabilities"}],
    }).encode()
    r = httpx.post(f"{url}/v2/models/classifier/infer", content=head + x.tobytes(),
                   headers={"Authorization": f"Bearer {key}", "Inference-Header-Content-Length": str(len(head)),
                            "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    header = json.loads(r.content[:n])
    label, probs = header["outputs"]
    assert label["parameters"]["binary_data_size"] == 16 and "data" not in label
    assert np.frombuffer(r.content[n:], dtype="<i8").tolist() == [4, 7]
    assert len(probs["data"]) == 20  # asked as JSON: stays JSON


def test_binary_bytes_tensor_over_http(server):
    url, key = server
    blob = b"".join(struct.pack("<I", len(s)) + s for s in [b"a b", b"c d e"])
    head = json.dumps({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": len(blob)}}]}).encode()
    r = httpx.post(f"{url}/v2/models/translator/infer", content=head + blob,
                   headers={"Authorization": f"Bearer {key}", "Inference-Header-Content-Length": str(len(head))})
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == ["b a", "e d c"]


def test_tritonclient_unchanged(server):
    httpclient = pytest.importorskip("tritonclient.http")
    from tritonclient.utils import InferenceServerException

    url, key = server
    headers = {"Authorization": f"Bearer {key}"}
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_live() and client.is_model_ready("classifier", headers=headers)
    assert client.get_model_metadata("classifier", headers=headers)["inputs"][0]["shape"] == [-1, 40]
    x = np.zeros((3, 40), dtype=np.float32)
    x[:, 2] = 1
    for binary in (True, False):  # True is tritonclient's default
        tensor = httpclient.InferInput("input", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        outputs = [httpclient.InferRequestedOutput("label", binary_data=binary)]
        # A fresh dict each call: tritonclient writes Inference-Header-Content-Length into it.
        result = client.infer("classifier", [tensor], outputs=outputs, request_id="r-1", headers=dict(headers))
        assert result.as_numpy("label").tolist() == [2, 2, 2]
        assert result.get_response()["id"] == "r-1"
    text = httpclient.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array(["x y"], dtype=object))
    assert client.infer("translator", [text], headers=dict(headers)).as_numpy("translation").tolist() == [b"y x"]
    with pytest.raises(InferenceServerException, match="401"):
        client.get_server_metadata()
    client.close()
