"""`dlbench recommend` on a CSV with a time column: a forecasting profile instead of a table.

A CSV is a time series when a column reads as time (named date/time/timestamp/..., or the one column of dates),
the target is numeric, and the rows lie on a regular grid per series (the frequency pandas infers, with gaps
allowed). A text column that repeats with each timestamp names the series. Other numeric or categorical columns
become covariates observed up to the forecast origin (the safe choice: none is assumed known in advance).
"""
from __future__ import annotations

from pathlib import Path


from dlbench.data.series_frame import season_of, split_series, time_text
from dlbench.data.timeseries import TimeSeriesData, bounds, default_context, default_horizon, find_time_column
from dlbench.errors import UserError
from dlbench.recommend.inspect import Profile


def _id_column(frame, time: str, skip: list[str]) -> str | None:
    """A non-numeric column with few values under which each timestamp occurs once, while it repeats without."""
    import pandas as pd

    if not frame[time].duplicated().any():
        return None
    for c in frame.columns:
        if c in skip or c == time or pd.api.types.is_float_dtype(frame[c]):
            continue
        if frame[c].nunique() <= max(1, len(frame) // 3) and not frame.duplicated([c, time]).any():
            return c
    return None


def profile(p: Path, frame, target: str | None) -> Profile | None:
    """The forecasting profile of a CSV, or None when it is not a regular time series with a numeric target."""
    import pandas as pd

    time = find_time_column(frame, [target] if target else [])
    if time is None:
        return None
    ids = _id_column(frame, time, [target] if target else [])
    rest = [c for c in frame.columns if c not in (time, ids)]
    numeric = [c for c in rest if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    if target is None:
        if len(numeric) != 1:
            return None  # which column to forecast is the user's call: the tabular path asks for --target
        target = numeric[0]
    if target not in numeric:
        return None
    covariates = [c for c in rest if c != target and frame[c].nunique() < len(frame)]
    try:
        series, freq, kind = split_series(frame, time, ids, [target], covariates, None, None, str(p))
    except UserError:
        return None  # no regular grid: not a series dlbench can window; the tabular path takes it
    if not series:
        return None
    season = season_of(freq, kind)
    H = default_horizon(season)
    C = default_context(season, H)
    longest = max(len(s.y) for s in series)
    opts = TimeSeriesData(path=str(p), target=target)
    tr_end, _ = bounds(longest, opts)
    while C > H and tr_end < C + H + 50:  # short series: a shorter lookback leaves training windows
        C = max(H, C // 2)
    gaps = sum(s.missing_steps for s in series)
    steps = sum(len(s.y) for s in series)
    first, last = time_text(series[0].times[0]), time_text(series[0].times[-1])
    facts = [f"time column '{time}': {len(series)} series" + (f" (one per '{ids}')" if ids else "") +
             f", {steps} steps of frequency {freq} from {first} to {last}",
             f"target '{target}': numeric, range {frame[target].min():.4g} to {frame[target].max():.4g}",
             (f"{gaps} steps have no value (missing timestamps or empty cells, {gaps / steps:.1%}): filled with the "
              "last observed value and masked out of loss and metrics (data.missing: fill)") if gaps else
             "no gaps in the grid",
             f"season {season} steps; forecasts the next {H} steps at once (direct) from the last {C}",
             "split by time: the last 20% of each series for test, the 10% before it for validation"]
    if covariates:
        facts.append(f"covariate(s) {', '.join(covariates)} used as observed up to the forecast origin; list those "
                     "known in advance under data.known")
    data = {"kind": "timeseries", "target": target, "time": time, **({"id": ids} if ids else {}),
            **({"observed": covariates} if covariates else {}), "horizon": H, "context": C}
    channels = 3 + (2 if season > 1 else 0) + len(covariates)
    windows = max(1, sum(max(0, len(s.y) - C - H) for s in series))
    return Profile(p, "timeseries", "forecasting", windows, data, (channels, C + H), facts)


__all__ = ["profile"]
