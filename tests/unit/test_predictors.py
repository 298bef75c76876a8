"""Run directories as server predictors: raw inputs in, the stored preprocessing applied."""
import numpy as np
import pandas as pd
import pytest

import dlbench
from dlbench.errors import UserError
from dlbench.serve.runs import load_predictor
from dlbench.serve.predictor import Predictor
from tests.conftest import tiny


def test_array_classifier_predictor_matches_predict(trained_run, tmp_path):
    p = load_predictor(trained_run, version="2")
    assert isinstance(p, Predictor) and p.name == trained_run.name and p.version == "2"
    assert [(s.name, s.datatype, s.shape) for s in p.inputs()] == [("input", "FP32", (-1, 1, 40))]
    assert [s.name for s in p.outputs()] == ["probabilities", "label"]
    x = np.random.default_rng(0).normal(size=(5, 1, 40)).astype(np.float32)
    out = p.predict({"input": x}, {})
    assert out["probabilities"].shape == (5, 10) and out["label"].dtype == object
    np.savez(tmp_path / "x.npz", x=x)
    ref = dlbench.predict(trained_run, str(tmp_path / "x.npz"))["predictions"]
    assert np.allclose(ref["probabilities"], out["probabilities"], atol=1e-6)
    with pytest.raises(UserError, match="expects"):
        p.predict({"input": np.zeros((2, 3), np.float32)}, {})


def test_tabular_predictor_one_input_per_column(tmp_path):
    from tests.unit.data.test_tabular import make_csv

    path = make_csv(tmp_path)
    cfg = tiny(model="mlp")
    cfg["data"] = {"kind": "csv", "path": str(path), "target": "churn"}
    dlbench.train(cfg, run_dir=tmp_path / "tab")
    p = load_predictor(tmp_path / "tab")
    assert {(s.name, s.datatype) for s in p.inputs()} == {("age", "FP64"), ("income", "FP64"), ("city", "BYTES")}
    frame = pd.read_csv(path).head(3)
    out = p.predict({"age": frame["age"].to_numpy(), "income": frame["income"].to_numpy(),
                     "city": frame["city"].to_numpy(dtype=object)}, {})
    assert set(out["label"]) <= {"yes", "no"} and out["probabilities"].shape == (3, 2)


def test_regression_predictor(tmp_path):
    dlbench.train(tiny("diabetes", "mlp"), run_dir=tmp_path / "reg")
    p = load_predictor(tmp_path / "reg")
    assert [s.name for s in p.outputs()] == ["prediction"]
    out = p.predict({"input": np.ones((4, 10), np.float32)}, {})
    assert out["prediction"].shape == (4,)
