"""The timeseries data kind: time split and window boundaries, training-only scalers, gaps, frequency, bad input."""
import numpy as np
import pandas as pd
import pytest

from dlbench.data.timeseries import TimeSeriesData, bounds, build_timeseries
from dlbench.errors import UserError


def write(tmp_path, values, start="2020-01-05", freq="W-SUN", drop=(), name="s.csv", **cols):
    dates = pd.date_range(start, periods=len(values), freq=freq)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "y": values, **cols}).drop(index=list(drop))
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def build(path, **kw):
    kw.setdefault("target", "y")
    kw.setdefault("context", 8)
    kw.setdefault("horizon", 3)
    return build_timeseries(TimeSeriesData(path=path, **kw))


def index_of(split, times):
    """Each window's origin as an index into `times`."""
    pos = {t: i for i, t in enumerate(times)}
    return np.array([pos[o] for o in split.info["origin"]])


def test_windows_never_reach_into_a_later_split(tmp_path):
    n = 120
    path = write(tmp_path, np.arange(n, dtype=float))
    b = build(path, stride=1)
    times = [t.strftime("%Y-%m-%d") for t in pd.date_range("2020-01-05", periods=n, freq="W-SUN")]
    cfg = TimeSeriesData(path=path, target="y")
    tr_end, va_end = bounds(n, cfg)
    C, H = 8, 3
    splits = {"train": b.train, "val": b.val, "test": b.test._split}
    o = {k: index_of(s, times) for k, s in splits.items()}
    # the horizon of every window lies in its own split, entirely
    assert (o["train"] + H <= tr_end).all() and (o["train"] - C >= 0).all()
    assert (o["val"] >= tr_end).all() and (o["val"] + H <= va_end).all()
    assert (o["test"] >= va_end).all() and (o["test"] + H <= n).all()
    # no index of a later split inside an earlier split's window (context included)
    assert (o["train"] + H - 1).max() < tr_end and (o["val"] + H - 1).max() < va_end
    # every origin is used once, and the truth of a window is the series at its horizon
    assert len(o["test"]) == n - H - va_end + 1
    t = splits["test"].info["truth"][:, :, 0]
    assert np.array_equal(t, o["test"][:, None] + np.arange(H)[None])
    # the context a window sees is the history right before its origin (values = index, normalized per window)
    x = splits["val"].x.numpy()
    level, scale = splits["val"].info["level"][:, 0], splits["val"].info["scale"][:, 0]
    ctx = x[:, 0, :C] * scale[:, None] + level[:, None]
    assert np.allclose(ctx, o["val"][:, None] + np.arange(-C, 0)[None], atol=1e-3)
    assert (x[:, 0, C:] == 0).all()  # the horizon carries no target values


def test_scalers_come_from_the_training_period_only(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(10, 2, 100)
    b = a.copy()
    b[75:] *= 100  # the validation and test periods change wildly
    cov = rng.normal(0, 1, 100)
    cov_b = cov.copy()
    cov_b[75:] += 50
    one = build(write(tmp_path, a, name="a.csv", temp=cov), observed=["temp"])
    two = build(write(tmp_path, b, name="b.csv", temp=cov_b), observed=["temp"])
    assert one.preprocessing["stats"] == two.preprocessing["stats"]
    assert one.preprocessing["observed"] == two.preprocessing["observed"]
    assert torch_equal(one.train.x, two.train.x) and torch_equal(one.train.y, two.train.y)
    tr_end, _ = bounds(100, TimeSeriesData(path="x", target="y"))
    assert one.preprocessing["stats"][""]["mean"][0] == pytest.approx(a[:tr_end].mean())
    assert one.preprocessing["stats"][""]["scale"][0] == pytest.approx(a[:tr_end].std())


def torch_equal(a, b):
    return bool((a == b).all())


def test_gaps_are_filled_causally_masked_and_left_out_of_the_metrics(tmp_path):
    values = np.arange(60, dtype=float)
    values[20] = np.nan          # an empty cell
    path = write(tmp_path, values, drop=[40, 41])  # two missing weeks (absent rows)
    b = build(path, val_fraction=0.3, test_fraction=0.2)
    assert b.spec.extras["missing_steps"] == 3 and b.spec.extras["frequency"] == "W-SUN"
    times = [t.strftime("%Y-%m-%d") for t in pd.date_range("2020-01-05", periods=60, freq="W-SUN")]
    o = index_of(b.train, times)
    w = int(np.flatnonzero(o == 25)[0])  # context 17..24 holds index 20
    x = b.train.x[w].numpy()
    mask = x[1, :8]
    assert mask.tolist() == [1, 1, 1, 0, 1, 1, 1, 1]
    lv, sc = b.train.info["level"][w, 0], b.train.info["scale"][w, 0]
    assert x[0, 3] * sc + lv == pytest.approx(19.0, abs=1e-3)  # the last observed value, not 21 (no look-ahead)
    # a window whose horizon holds the missing weeks: NaN truth, mask 0 in y
    vo = index_of(b.val, times)
    v = int(np.flatnonzero(vo == 39)[0])     # horizon 39, 40, 41
    assert np.isnan(b.val.info["truth"][v, 1:, 0]).all()
    assert b.val.y[v, 3:].tolist() == [1.0, 0.0, 0.0]
    assert b.val.info["naive"][v, 0, 0] == 38.0


def test_missing_error_names_the_first_gaps_and_the_key(tmp_path):
    path = write(tmp_path, np.arange(60, dtype=float), drop=[30, 31])
    with pytest.raises(UserError, match=r"2 time step\(s\).*2020-08-02.*data\.missing: fill"):
        build(path, missing="error")


def test_integer_times_many_series_and_covariates(tmp_path):
    rows = []
    for sid, base in (("a", 0.0), ("b", 1000.0)):
        for t in range(0, 80, 2):  # integer steps of 2
            rows.append({"t": t, "shop": sid, "y": base + t, "price": 1.0 + t % 3, "promo": "yes" if t % 4 else "no"})
    path = tmp_path / "m.csv"
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(path, index=False)  # order does not matter
    b = build_timeseries(TimeSeriesData(path=str(path), target="y", time="t", id="shop", known=["price"],
                                        observed=["promo"], context=6, horizon=2))
    e = b.spec.extras
    assert e["series"] == 2 and e["frequency"] == "2" and e["season"] == 1
    assert set(b.preprocessing["stats"]) == {"a", "b"}
    names = e["feature_names"]
    assert names == ["target:y", "observed:y", "future", "known:price", "observed:promo=no", "observed:promo=yes"]
    x = b.train.x.numpy()
    fut = x[:, names.index("future")]
    assert (fut[:, 6:] == 1).all() and (fut[:, :6] == 0).all()
    assert (x[:, names.index("observed:promo=yes"), 6:] == 0).all()   # observed covariates stop at the origin
    assert np.abs(x[:, names.index("known:price"), 6:]).sum() > 0     # known ones reach into the horizon
    assert set(b.train.info["series"]) == {"a", "b"}


@pytest.mark.parametrize("case, match", [
    ("bad time", r"time column 'date' does not parse as a date in row 3 \('not a date'\).*data\.time_format"),
    ("duplicate", r"duplicated timestamp 2020-01-19.*rows 3, 4"),
    ("long horizon", r"data\.horizon 30 is longer than the test period"),
    ("too short", r"fewer than one window \(context 8 \+ horizon 3\)"),
])
def test_bad_input_is_one_clear_line(tmp_path, case, match):
    n = 60 if case != "too short" else 10
    frame = pd.DataFrame({"date": pd.date_range("2020-01-05", periods=n, freq="W-SUN").strftime("%Y-%m-%d"),
                          "y": np.arange(n, dtype=float)})
    if case == "bad time":
        frame.loc[2, "date"] = "not a date"
    if case == "duplicate":
        frame.loc[3, "date"] = frame.loc[2, "date"]
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=match):
        build(str(path), horizon=30 if case == "long horizon" else 3)


def test_off_grid_timestamp_and_settable_frequency(tmp_path):
    path = write(tmp_path, np.arange(60, dtype=float), freq="D")
    assert build(path).spec.extras["season"] == 7
    with pytest.raises(UserError, match=r"not on the W-SUN grid.*data\.frequency"):
        build(path, frequency="W-SUN")
