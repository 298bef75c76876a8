"""Forecasting end to end through the CLI on a tiny weekly series with gaps: recommend -> train -> predict ->
evaluate -> report, every family on the same windows, and bad input (one line, exit 2, nothing left behind)."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml

FAST = ["-o", "train.steps=30", "-o", "train.eval_every=15", "-o", "train.batch_size=32", "-q"]


@pytest.fixture
def weekly(tmp_path):
    """Four years of a seasonal weekly series with a trend, three weeks missing."""
    n = 208
    t = np.arange(n)
    y = 100 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 52) + np.random.default_rng(0).normal(0, 0.3, n)
    dates = pd.date_range("2018-01-06", periods=n, freq="W-SAT")
    frame = pd.DataFrame({"week": dates.strftime("%Y-%m-%d"), "sales": y.round(3)}).drop(index=[40, 41, 90])
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    return path


def test_recommend_train_predict_evaluate_report(run_cli, weekly, tmp_path):
    cfg = tmp_path / "fc.yaml"
    code, out, err = run_cli("recommend", weekly, "--target", "sales", "--output", cfg)
    assert code == 0, err
    c = yaml.safe_load(cfg.read_text())
    assert c["data"]["kind"] == "timeseries" and c["data"]["time"] == "week" and c["data"]["horizon"] == 13
    assert c["model"]["name"] == "cnn" and c["model"]["causal"] is True
    assert "3 steps have no value" in cfg.read_text()
    run = tmp_path / "runs" / "fc"
    code, out, err = run_cli("train", cfg, "--run-dir", run, *FAST)
    assert code == 0, err
    r = json.loads((run / "result.json").read_text())
    assert r["task"] == "forecasting" and r["data"]["test_opened"] == ["final test after training"]
    for split in ("val", "test"):
        assert set(r[split]["baselines"]) == {"naive", "seasonal_naive"}
        assert {"mae", "rmse", "smape", "mase"} <= set(r[split]["baselines"]["seasonal_naive"])
    assert "seasonal-naive" in r["diagnosis"]["reason"]
    assert "model and baselines on the same windows" in out and "seasonal naive" in out

    nxt = tmp_path / "next.csv"
    code, _, err = run_cli("predict", run, weekly, "--output", nxt)
    assert code == 0, err
    f = pd.read_csv(nxt)
    assert list(f.columns) == ["week", "step", "sales"] and len(f) == 13
    assert f["week"].iloc[0] == "2022-01-01" and f["week"].iloc[-1] == "2022-03-26"  # the 13 Saturdays after
    assert f["sales"].between(90, 125).all()

    code, out, err = run_cli("evaluate", run, "--split", "val", "--errors", "2")
    assert code == 0, err
    m = json.loads(out.strip().splitlines()[-1])
    assert m["mase"] == pytest.approx(r["val"]["mase"]) and len(m["errors"]) == 2
    assert "largest mean absolute error over the horizon" in m["errors_ranked_by"]
    assert "model and baselines on the same windows" in err and "seasonal naive" in err

    code, _, err = run_cli("report", run)
    assert code == 0, err
    html = (run / "report.html").read_text()
    assert "Forecast accuracy against the baselines" in html and "Forecasts against the actual series" in html


@pytest.mark.parametrize("family", ["cnn", "mlp", "rnn", "transformer"])
def test_every_family_forecasts_the_same_windows(run_cli, write_yaml, weekly, tmp_path, family):
    models = {"cnn": {"name": "cnn"}, "mlp": {"name": "mlp", "hidden": [32]}, "rnn": {"name": "rnn", "hidden_size": 16},
              "transformer": {"name": "transformer", "d_model": 16, "heads": 2, "layers": 1}}
    cfg = write_yaml({"data": {"kind": "timeseries", "path": str(weekly), "target": "sales"}, "model": models[family]})
    run = tmp_path / family
    code, _, err = run_cli("train", cfg, "--run-dir", run, *FAST)
    assert code == 0, err
    r = json.loads((run / "result.json").read_text())
    assert r["model"] == family and (r["data"]["val"], r["data"]["test"]) == (9, 30)  # 21 and 42 steps, horizon 13
    assert np.isfinite(r["test"]["mase"])
    code, out, err = run_cli("evaluate", run, "--split", "val")  # the run loads back through its model.json
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["mase"] == pytest.approx(r["val"]["mase"])
    if family == "cnn":  # a cnn on forecasting windows is a TCN unless told otherwise
        from safetensors import safe_open

        with safe_open(str(run / "model.safetensors"), "pt") as f:
            assert "blocks.0.net.0.weight" in set(f.keys())  # TCN's first causal convolution


def test_quantile_forecasts_through_predict(run_cli, write_yaml, weekly, tmp_path):
    cfg = write_yaml({"data": {"kind": "timeseries", "path": str(weekly), "target": "sales", "quantiles": [0.9, 0.1]},
                      "model": {"name": "mlp", "hidden": [16]}})
    run = tmp_path / "q"
    assert run_cli("train", cfg, "--run-dir", run, *FAST)[0] == 0
    r = json.loads((run / "result.json").read_text())
    assert r["test"]["coverage_nominal"] == pytest.approx(0.8) and 0 <= r["test"]["coverage"] <= 1
    out = tmp_path / "q.csv"
    assert run_cli("predict", run, weekly, "--output", out)[0] == 0
    f = pd.read_csv(out)
    assert list(f.columns) == ["week", "step", "sales", "sales_q0.1", "sales_q0.9"] and len(f) == 13


def _series(tmp_path, rows: int, edit=None):
    frame = pd.DataFrame({"date": pd.date_range("2020-01-04", periods=rows, freq="W-SAT").strftime("%Y-%m-%d"),
                          "y": np.arange(rows, dtype=float)})
    if edit:
        edit(frame)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, rows, edit, extra, message", [
    ("time does not parse", 120, lambda f: f.__setitem__("date", f["date"].where(f.index != 5, "32/13/2020")), [],
     "time column 'date' does not parse as a date in row 6"),
    ("duplicated timestamps", 120, lambda f: f.loc.__setitem__((7, "date"), f.loc[6, "date"]), [],
     "duplicated timestamp 2020-02-15"),
    ("horizon longer than the test period", 120, None, ["-o", "data.horizon=30", "-o", "data.context=30"],
     "data.horizon 30 is longer than the test period"),
    ("fewer rows than one window", 40, None, [], "fewer than one window (context 52 + horizon 13)"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(run_cli, write_yaml, tmp_path, case, rows, edit, extra,
                                                          message):
    path = _series(tmp_path, rows, edit)
    cfg = write_yaml({"data": {"kind": "timeseries", "path": str(path), "target": "y"}, "model": {"name": "mlp"}})
    run = tmp_path / "run"
    code, out, err = run_cli("train", cfg, "--run-dir", run, *extra, *FAST)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not run.exists()  # a rerun with the data fixed does not trip over a half-made run


def test_predict_refuses_a_history_shorter_than_the_context(run_cli, weekly, tmp_path, write_yaml):
    cfg = write_yaml({"data": {"kind": "timeseries", "path": str(weekly), "target": "sales"},
                      "model": {"name": "mlp", "hidden": [16]}})
    run = tmp_path / "r"
    assert run_cli("train", cfg, "--run-dir", run, *FAST)[0] == 0
    short = tmp_path / "short.csv"
    pd.read_csv(weekly).head(20).to_csv(short, index=False)
    out = tmp_path / "next.csv"
    code, _, err = run_cli("predict", run, short, "--output", out)
    assert code == 2 and "has 20 steps; the model reads the last 52" in err and not out.exists()
