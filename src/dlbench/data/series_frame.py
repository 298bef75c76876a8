"""A CSV of one or many time series -> regular per-series arrays, and the fitted encoding that turns them into
model windows. Training (data/timeseries.py) and `dlbench predict` (codecs/series.py) share every step here,
so a history file is read exactly as the training file was.

Reading: the time column is parsed (dates with pandas, or integers: steps), rows are grouped by the id
column (one series per value), a series' timestamps must be unique, and they must lie on one regular grid
(the frequency: inferred with pandas.infer_freq, or data.frequency). Timestamps the grid has and the file
lacks are missing rows: their targets are NaN, like empty cells.

Encoding one time step (channels of a window [F, context + horizon]):
  target(s)      (value - level) / scale, 0 in the horizon (the future is what is predicted)
  observed mask  1 where the target was observed in the context; 0 for a filled gap and in the horizon
  future flag    0 in the context, 1 in the horizon
  known          covariates known in advance (standardized numbers, one-hot categories), context and horizon
  observed cov.  covariates seen only up to the forecast origin: context values, 0 in the horizon
  season phase   sin and cos of the position in the season (the day of the year for weekly or monthly data,
                 the day of the week for daily, the hour for hourly), known in advance
Missing targets take the last observed value (causal: no window sees a value from after its forecast origin,
which linear interpolation across a gap would leak) and are masked out of the loss and of every metric.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbench.errors import UserError

SEASONS = {"W": 52, "D": 7, "B": 5, "h": 24, "H": 24, "MS": 12, "ME": 12, "M": 12, "BMS": 12, "BME": 12,
           "QS": 4, "QE": 4, "Q": 4, "BQS": 4, "BQE": 4}
"""Default seasonal period by the frequency's pandas rule (before its anchor: W-SAT -> W)."""
DAY = 86400.0


@dataclass
class Series:
    """One regular series: `times` every step of the grid, `y` [n, k] targets (NaN: missing), `frame` the
    covariate columns on the same grid (NaN where the file has no row)."""
    key: str
    times: object
    y: np.ndarray
    frame: object
    missing_steps: int = 0
    """Timestamps of the grid absent from the file."""


def file_row(index) -> int:
    """The 1-based data row of the CSV (header not counted) of a DataFrame index from read_csv."""
    return int(index) + 1


def parse_times(col, fmt: str | None, where: str, name: str):
    """A time column -> (values, "datetime" | "int"). Integers are steps, unless every one reads as YYYYMMDD."""
    import pandas as pd

    if col.isna().any():
        r = col.index[col.isna().to_numpy()][0]
        raise UserError(f"{where}: time column '{name}' is empty in row {file_row(r)}",
                        "every row needs a timestamp: fill or remove that row")
    if fmt is None and pd.api.types.is_integer_dtype(col):
        v = col.to_numpy(np.int64)
        if v.min() >= 10000101 and v.max() <= 99991231:  # 19580329: a date written as a number
            parsed = pd.to_datetime(col.astype(str), format="%Y%m%d", errors="coerce")
            if parsed.notna().all():
                return pd.DatetimeIndex(parsed), "datetime"
        return v, "int"
    text = col.astype(str)
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except (ValueError, TypeError) as e:  # an invalid format string, mixed time zones
        raise UserError(f"{where}: time column '{name}' cannot be read as dates ({str(e).splitlines()[0]})",
                        "set data.time_format to the strftime format of the column, e.g. %Y-%m-%d") from None
    bad = parsed.isna().to_numpy()
    if bad.any():
        r = col.index[bad][0]
        raise UserError(f"{where}: time column '{name}' does not parse as a date in row {file_row(r)} "
                        f"({col.loc[r]!r}){f' and {int(bad.sum()) - 1} more row(s)' if bad.sum() > 1 else ''}",
                        "fix those cells, or set data.time_format to the column's strftime format "
                        "(e.g. %d/%m/%Y); integer steps are read as they are")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.DatetimeIndex(parsed), "datetime"


def infer_frequency(series_times: list, kind: str, where: str):
    """The grid step shared by the series: a pandas offset alias (dates) or an integer step."""
    from collections import Counter


    if kind == "int":
        diffs = np.concatenate([np.diff(np.sort(t)) for t in series_times if len(t) > 1] or [np.array([], int)])
        diffs = diffs[diffs > 0]
        if not len(diffs):
            raise UserError(f"{where}: too few timestamps to infer the step", "set data.frequency (e.g. 1)")
        return int(np.gcd.reduce(diffs))
    votes: Counter = Counter()
    for t in series_times:
        t = t.sort_values()
        if len(t) >= 3:
            f = _infer(t)
            if f:
                votes[f] += len(t)
                continue
        for i in range(0, max(0, len(t) - 4), max(1, len(t) // 100)):  # gaps break infer_freq: vote over short runs
            f = _infer(t[i:i + 5])
            if f:
                votes[f] += 1
    if not votes:
        raise UserError(f"{where}: cannot infer the frequency of the time column",
                        "set data.frequency to a pandas offset alias (W-SUN, D, h, MS, ...)")
    return votes.most_common(1)[0][0]


def _infer(t) -> str | None:
    """pandas.infer_freq as an offset alias string (pandas 3 moves from strings to offsets)."""
    import pandas as pd

    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            f = pd.infer_freq(t)
    except (KeyError, pd.errors.OptionError):  # an older pandas without the option returns a string
        f = pd.infer_freq(t)
    return getattr(f, "freqstr", f)


def season_of(frequency, kind: str) -> int:
    """The seasonal period a frequency suggests (weekly 52, daily 7, hourly 24, monthly 12, ...); 1: none."""
    if kind == "int":
        return 1
    from pandas.tseries.frequencies import to_offset

    off = to_offset(frequency)
    rule = off.rule_code.split("-")[0]
    m = SEASONS.get(rule, 1)
    return max(1, m // off.n) if m > 1 else 1


def grid(times, frequency, kind: str):
    """Every step from the first to the last timestamp."""
    import pandas as pd

    if kind == "int":
        return np.arange(times.min(), times.max() + 1, int(frequency), dtype=np.int64)
    return pd.date_range(times.min(), times.max(), freq=frequency)


def season_seconds(times, frequency, season: int) -> float:
    """How long one season of dates lasts (measured on the calendar: business days, months differ in length)."""
    import pandas as pd

    span = pd.date_range(times[0], periods=season + 1, freq=frequency)
    return (span[-1] - span[0]).total_seconds()


def phase(times, frequency, kind: str, season: int) -> np.ndarray:
    """The position of each timestamp in its season, in [0, 1): calendar based when the season is about a
    year, a week or a day (so it stays in step over decades), else steps counted from the epoch."""
    if season <= 1:
        return np.zeros(len(times))
    if kind == "int":
        return (np.asarray(times) // int(frequency) % season) / season
    length = season_seconds(times, frequency, season)
    t = times
    if abs(length / (365.25 * DAY) - 1) < 0.1:
        return ((t.day_of_year - 1) + t.hour / 24) / (365 + t.is_leap_year.astype(int))
    if abs(length / (7 * DAY) - 1) < 0.1:
        return (t.day_of_week + t.hour / 24) / 7
    if abs(length / DAY - 1) < 0.1:
        return (t.hour * 3600 + t.minute * 60 + t.second) / DAY
    return (t.asi8 / 1e9 / length) % 1.0


def split_series(frame, time: str, ids: str | None, targets: list[str], covariates: list[str], fmt, frequency,
                 where: str, future_ok: bool = False) -> tuple[list[Series], object, str]:
    """Rows -> one regular Series per id. Returns (series, frequency, time kind).

    future_ok (predict): rows after the last observed target may carry known covariates only; they are
    kept as the future part (trailing rows without any target value)."""
    import pandas as pd

    times, kind = parse_times(frame[time], fmt, where, time)
    frame = frame.assign(**{time: times if kind == "int" else times.to_numpy()})
    if frequency is not None:
        try:
            frequency = int(frequency) if kind == "int" else _offset(frequency)
        except (ValueError, TypeError):
            raise UserError(f"data.frequency {frequency!r} does not suit {'integer steps' if kind == 'int' else 'dates'}",
                            "use an integer step for integer times, a pandas offset alias (W-SUN, D, h, MS) for dates")
    groups = [("", frame)] if ids is None else [(str(k), g) for k, g in frame.groupby(ids, sort=True, dropna=False)]
    found = []
    for key, g in groups:
        t = g[time]
        dup = t.duplicated(keep=False).to_numpy()
        if dup.any():
            rows = [file_row(r) for r in g.index[dup][:3]]
            raise UserError(f"{where}: duplicated timestamp {t[dup].iloc[0]}{f' in series {key!r}' if key else ''} "
                            f"(rows {', '.join(map(str, rows))})",
                            "keep one row per timestamp" + ("" if ids else ", or name the column that tells the "
                                                            "series apart with data.id"))
        found.append((key, g.sort_values(time)))
    tindex = (lambda g: g[time].to_numpy(np.int64)) if kind == "int" else (lambda g: pd.DatetimeIndex(g[time]))
    if frequency is None:
        frequency = infer_frequency([tindex(g) for _, g in found], kind, where)
    out = []
    for key, g in found:
        t = tindex(g)
        full = grid(t, frequency, kind)
        on = np.isin(t, full) if kind == "int" else t.isin(full)
        if not on.all():
            r = g.index[~on][0]
            raise UserError(f"{where}: timestamp {g[time].loc[r]} in row {file_row(r)} is not on the "
                            f"{frequency} grid that starts at {t[0]}",
                            "set data.frequency to the series' step, or fix that timestamp")
        g = g.set_index(time).reindex(full)
        y = g[targets].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        seen = np.isfinite(y).any(axis=1)
        if not seen.any():
            continue
        first, last = int(np.argmax(seen)), len(seen) - 1 - int(np.argmax(seen[::-1]))
        stop = len(seen) if future_ok else last + 1  # predict keeps the future rows after the history
        ys = y[first:stop]
        gaps = int((~np.isfinite(ys[:last + 1 - first]).any(axis=1)).sum())  # inside the observed span
        out.append(Series(key, full[first:stop], ys, g[covariates].iloc[first:stop], gaps))
    return out, frequency, kind


def _offset(frequency: str) -> str:
    from pandas.tseries.frequencies import to_offset

    return to_offset(str(frequency)).freqstr


def check_targets(frame, targets: list[str], where: str) -> None:
    import pandas as pd

    for t in targets:
        col = frame[t]
        num = pd.to_numeric(col, errors="coerce")
        bad = (num.isna() & col.notna()).to_numpy()
        if bad.any():
            r = col.index[bad][0]
            raise UserError(f"{where}: target column '{t}' is not numeric (row {file_row(r)} holds {col.loc[r]!r})",
                            "forecasting predicts numbers: fix that cell, or empty it to mark a missing value")
        if np.isinf(num.to_numpy(np.float64)).any():
            r = col.index[np.isinf(num.to_numpy(np.float64))][0]
            raise UserError(f"{where}: target column '{t}' holds {col.loc[r]} in row {file_row(r)}",
                            "targets must be finite numbers")


def time_text(t) -> str:
    """A timestamp as a person writes it: 1993-04-03 at midnight, 1993-04-03T06:00:00 otherwise, 17 for steps."""
    import pandas as pd

    if isinstance(t, (pd.Timestamp, np.datetime64)):
        t = pd.Timestamp(t)
        return t.date().isoformat() if t == t.normalize() else t.isoformat()
    return str(t)


def read_series_csv(path: str | Path):
    from dlbench.data.tabular import read_csv

    return read_csv(path)


def ffill(y: np.ndarray) -> np.ndarray:
    """Each NaN takes the last finite value before it (columns independently); leading NaN stay NaN."""
    out = np.array(y, dtype=np.float64)
    for j in range(out.shape[1]):
        col = out[:, j]
        idx = np.where(np.isfinite(col), np.arange(len(col)), -1)
        np.maximum.accumulate(idx, out=idx)
        col[idx >= 0] = col[idx[idx >= 0]]
        out[:, j] = col
    return out
