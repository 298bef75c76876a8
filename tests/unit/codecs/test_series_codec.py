"""The series codec reads a history exactly as training read the same steps, and writes dated forecasts."""
import numpy as np
import pandas as pd
import pytest

from dlbench.codecs import codec_for
from dlbench.data.timeseries import TimeSeriesData, build_timeseries
from dlbench.errors import UserError


@pytest.fixture
def data(tmp_path):
    n = 100
    dates = pd.date_range("2021-01-03", periods=n, freq="W-SUN")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "y": (np.arange(n) + rng.normal(0, 1, n)).round(3),
                          "price": rng.uniform(1, 2, n).round(3), "weather": rng.choice(["sun", "rain"], n)})
    frame.loc[50, "y"] = np.nan  # a gap inside the history
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    cfg = TimeSeriesData(path=str(path), target="y", known=["price"], observed=["weather"], context=10, horizon=4)
    return frame, build_timeseries(cfg), tmp_path


def test_a_history_gives_the_window_training_built_for_the_same_origin(data):
    frame, bundle, tmp = data
    codec = codec_for(bundle.preprocessing)
    test = bundle.test._split
    k = 3
    origin = test.info["origin"][k]
    o = int(np.flatnonzero(frame["date"] == origin)[0])
    history = frame.iloc[:o + 4].copy()
    history.loc[history.index[-4:], "y"] = np.nan  # the future rows: known covariates only
    history.loc[history.index[-4:], "weather"] = None
    path = tmp / "history.csv"
    history.to_csv(path, index=False)
    x, rows = codec.read(str(path))
    assert np.allclose(x[0], test.x[k].numpy(), atol=1e-6)
    assert rows[0]["times"][0] == origin and len(rows[0]["times"]) == 4
    # a forecast of zeros (scaled) is the level: the last observed value
    fc, text = codec.write_predictions({"prediction": np.zeros((1, 4), np.float32)}, rows, None)
    assert np.allclose(fc["forecast"][0, :, 0], frame["y"].iloc[o - 1])
    lines = text.strip().splitlines()
    assert lines[0] == "date,step,y" and lines[1].startswith(f"{origin},1,")


def test_known_covariates_are_required_for_the_horizon(data):
    frame, bundle, tmp = data
    path = tmp / "no-future.csv"
    frame.iloc[:60].to_csv(path, index=False)
    with pytest.raises(UserError, match=r"needs the known covariates price for the 4 steps after its last target"):
        codec_for(bundle.preprocessing).read(str(path))


def test_serving_a_forecaster_says_to_use_predict(data):
    _, bundle, _ = data
    with pytest.raises(UserError, match="dlbench predict RUN history.csv"):
        codec_for(bundle.preprocessing).request_specs(())
