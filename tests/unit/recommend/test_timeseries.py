"""recommend on CSVs with a time column: forecasting profiles, series ids, and what stays a table."""
import numpy as np
import pandas as pd

from dlbench.recommend import recommend


def test_many_series_with_an_id_column_and_a_covariate(tmp_path):
    days = pd.date_range("2022-01-01", periods=120, freq="D").strftime("%Y-%m-%d")
    rng = np.random.default_rng(0)
    frame = pd.concat([pd.DataFrame({"store": s, "day": days, "units": rng.poisson(20, 120),
                                     "temp": rng.normal(20, 5, 120).round(1)}) for s in ("north", "south")])
    path = tmp_path / "stores.csv"
    frame.to_csv(path, index=False)
    rec = recommend(path, target="units", write=False)
    d = rec.config["data"]
    assert rec.profile.kind == "timeseries" and rec.written_family == "cnn"
    assert (d["kind"], d["time"], d["id"], d["observed"], d["horizon"]) == ("timeseries", "day", "store", ["temp"], 7)
    assert any("2 series (one per 'store')" in f and "frequency D" in f for f in rec.profile.facts)


def test_a_table_with_dates_but_no_regular_grid_stays_a_table(tmp_path):
    rng = np.random.default_rng(0)
    when = pd.Timestamp("2022-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 900, 200)), unit="h")
    frame = pd.DataFrame({"signup": when.strftime("%Y-%m-%d %H:%M:%S.%f"), "age": rng.integers(18, 80, 200),
                          "spend": rng.normal(100, 20, 200)})
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    assert recommend(path, target="spend", write=False).profile.kind != "timeseries"
