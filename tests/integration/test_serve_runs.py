"""A real trained run directory served end to end: load_predictor -> live server -> v2 client."""

import httpx
import numpy as np

from dlbench.serve.runs import load_predictor
from tests.unit.serve.serve_fakes import live_server


def test_trained_run_serves_the_same_predictions(trained_run):
    predictor = load_predictor(trained_run)
    x = np.random.default_rng(0).normal(size=(3, 1, 40)).astype(np.float32)
    expected = predictor.predict({"input": x}, {})
    with live_server([predictor], no_auth=True) as url:
        meta = httpx.get(f"{url}/v2/models/{trained_run.name}").json()
        assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 40]}]
        r = httpx.post(f"{url}/v2/models/{trained_run.name}/infer", json={
            "inputs": [{"name": "input", "shape": [3, 1, 40], "datatype": "FP32", "data": x.ravel().tolist()}]})
        assert r.status_code == 200, r.text
        outs = {o["name"]: o for o in r.json()["outputs"]}
        assert outs["label"]["data"] == list(expected["label"])
        np.testing.assert_allclose(np.array(outs["probabilities"]["data"]).reshape(3, -1), expected["probabilities"], atol=1e-6)
        bad = httpx.post(f"{url}/v2/models/{trained_run.name}/infer", json={
            "inputs": [{"name": "input", "shape": [1, 40], "datatype": "FP32", "data": [0.0] * 40}]})
        assert bad.status_code == 400 and "expected shape [-1, 1, 40]" in bad.json()["error"]
