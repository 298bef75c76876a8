"""dlbench export: ONNX checked in onnxruntime against torch, and safetensors + JSON."""
import json

import numpy as np
import onnxruntime as ort
import pytest

import dlbench
from tests.conftest import tiny


@pytest.mark.parametrize("model", ["cnn", "rnn"])
def test_onnx_export_parity_on_raw_inputs(run_cli, tmp_path, model):
    run = tmp_path / model
    dlbench.train(tiny(model=model, steps=10, eval_every=10), run_dir=run)
    code, out, err = run_cli("export", run, "--format", "onnx", "--output", tmp_path / "m.onnx")
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["passed"] and report["max_abs_diff"] <= 1e-4 and "matches torch" in err
    # the graph is self-contained: raw inputs in, probabilities out, same as dlbench predict
    x = np.random.default_rng(1).normal(size=(5, 1, 40)).astype(np.float32)
    probs = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    np.savez(tmp_path / "x.npz", x=x)
    ref = dlbench.predict(run, str(tmp_path / "x.npz"))["predictions"]["probabilities"]
    assert np.allclose(probs, ref, atol=1e-5)
    assert run_cli("export", run, "--output", tmp_path / "m.onnx")[0] == 2  # never overwrites


def test_regression_onnx_and_safetensors_export(run_cli, tmp_path):
    run = tmp_path / "reg"
    dlbench.train(tiny("diabetes", "mlp", steps=10, eval_every=10), run_dir=run)
    assert run_cli("export", run, "--output", tmp_path / "r.onnx")[0] == 0
    code, out, err = run_cli("export", run, "--format", "safetensors", "--output", tmp_path / "st")
    assert code == 0, err
    assert {p.name for p in (tmp_path / "st").iterdir()} == {"model.safetensors", "model.json"}
    code, _, err = run_cli("export", run, "--format", "tflite", "--output", tmp_path / "x")
    assert code == 2 and "unknown export format" in err
