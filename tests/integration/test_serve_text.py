"""Text runs served over the Open Inference Protocol: translation (BYTES in/out) and text classification."""
import httpx
import numpy as np
import pandas as pd

import dlbench
from dlbench.serve.runs import load_predictor
from tests.integration.test_translation_cli import translation
from tests.unit.serve.serve_fakes import live_server


def test_translation_and_text_classifier_over_http(tmp_path):
    cfg = translation()
    cfg["train"].update(steps=30, eval_every=30)
    dlbench.train(cfg, run_dir=tmp_path / "t")
    rows = [(f"{w} {k}", "pos" if w in ("good", "great") else "neg") for k in range(20)
            for w in ("good", "great", "bad", "awful")]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "texts.csv", index=False)
    dlbench.train({"data": {"kind": "text-csv", "path": str(tmp_path / "texts.csv")},
                   "model": {"name": "transformer", "d_model": 16, "heads": 2, "layers": 1},
                   "optim": {"lr": 1e-2}, "train": {"steps": 20, "batch_size": 32, "eval_every": 20, "threads": 1}},
                  run_dir=tmp_path / "c")
    tr, cl = load_predictor(tmp_path / "t"), load_predictor(tmp_path / "c")
    assert [(s.name, s.datatype) for s in tr.inputs()] == [("text", "BYTES")]
    assert [(s.name, s.datatype) for s in tr.outputs()] == [("translation", "BYTES")]
    local = tr.predict({"text": np.array(["three", "forty-two"], dtype=object)}, {})["translation"]
    with live_server([tr, cl], no_auth=True) as url:
        r = httpx.post(f"{url}/v2/models/t/infer", json={
            "id": "q1", "parameters": {"beam": 2},
            "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["three", "forty-two"]}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"] == "q1" and body["outputs"][0]["datatype"] == "BYTES" and len(body["outputs"][0]["data"]) == 2
        r = httpx.post(f"{url}/v2/models/t/infer", json={
            "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["three", "forty-two"]}]})
        assert r.json()["outputs"][0]["data"] == list(local)
        bad = httpx.post(f"{url}/v2/models/t/infer", json={"parameters": {"beam": 0},
            "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["three"]}]})
        assert bad.status_code == 400 and "beam" in bad.json()["error"]
        r = httpx.post(f"{url}/v2/models/c/infer", json={
            "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["great 1", "awful 2"]}]})
        assert r.status_code == 200, r.text
        outs = {o["name"]: o for o in r.json()["outputs"]}
        assert set(outs) == {"probabilities", "label"} and outs["probabilities"]["shape"] == [2, 2]
