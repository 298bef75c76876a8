"""A GAN run served over the Open Inference Protocol: count, labels and seed in, samples out."""
import httpx
import numpy as np

import dlbench
from dlbench.serve.runs import load_predictor
from tests.integration.test_gan_cli import TINY_GAN
from tests.unit.serve.serve_fakes import live_server


def test_generator_over_http(tmp_path):
    dlbench.train(TINY_GAN, run_dir=tmp_path / "g")
    p = load_predictor(tmp_path / "g")
    assert not p.batchable and [s.name for s in p.outputs()] == ["samples", "labels"]
    with live_server([p], no_auth=True) as url:
        req = {"inputs": [{"name": "count", "shape": [1], "datatype": "INT64", "data": [3]},
                          {"name": "labels", "shape": [3], "datatype": "BYTES", "data": ["7", "7", "1"]},
                          {"name": "seed", "shape": [1], "datatype": "INT64", "data": [5]}]}
        r = httpx.post(f"{url}/v2/models/g/infer", json=req)
        assert r.status_code == 200, r.text
        outs = {o["name"]: o for o in r.json()["outputs"]}
        assert outs["samples"]["shape"] == [3, 1, 8, 8] and outs["labels"]["data"] == ["7", "7", "1"]
        again = httpx.post(f"{url}/v2/models/g/infer", json=req).json()
        assert {o["name"]: o for o in again["outputs"]}["samples"]["data"] == outs["samples"]["data"]  # same seed
        bad = dict(req)
        bad["inputs"] = [req["inputs"][0], {"name": "labels", "shape": [3], "datatype": "BYTES", "data": ["x"] * 3}]
        r = httpx.post(f"{url}/v2/models/g/infer", json=bad)
        assert r.status_code == 400 and "unknown label" in r.json()["error"]
        r = httpx.post(f"{url}/v2/models/g/infer", json={"inputs": [
            {"name": "count", "shape": [1], "datatype": "INT64", "data": [0]}]})
        assert r.status_code == 400 and "count must be" in r.json()["error"]
    out = p.predict({"count": np.array([4])}, {})
    assert out["samples"].shape == (4, 1, 8, 8) and len(out["labels"]) == 4
