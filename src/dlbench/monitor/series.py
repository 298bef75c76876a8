"""A forecaster's monitored rows: the time steps of the history a client gives `dlbench predict` (a CSV with the
training file's columns), in the file's own units, as the column arrays `features.SeriesFeatures` reads.

The reference is the training period of the training file (the same cut the run's windows were drawn from); live
data is a new history file (`dlbench monitor RUN history.csv`). Steps without any target value (gaps, and the rows
after the history that carry known covariates for the forecast) are not rows; a covariate gap takes the last value
before it, then the training mean, as the model's encoding does.
"""
from __future__ import annotations

import numpy as np

from dlbench.errors import UserError


def history_rows(series: list, encoder, ends: list[int] | None = None) -> tuple[dict[str, np.ndarray], str]:
    """({column: values} over the steps of `series` (data.series_frame.Series) up to `ends[i]` (default: each
    series' last step with a target value), a line saying how many series and steps of history they are)."""
    import pandas as pd

    cols: dict[str, list] = {n: [] for n in [*encoder.targets, *encoder.covariates]}
    lengths = []
    for i, s in enumerate(series):
        seen = np.isfinite(s.y).any(axis=1)
        end = ends[i] if ends is not None else len(seen) - int(np.argmax(seen[::-1]))
        keep = seen[:end]
        lengths.append(end)
        for j, t in enumerate(encoder.targets):
            cols[t].append(np.asarray(s.y[:end, j], dtype=np.float64)[keep])
        frame = s.frame.iloc[:end].ffill()
        for c in encoder.known + encoder.observed:
            v = frame[c["name"]]
            if c["type"] == "numeric":
                v = pd.to_numeric(v, errors="coerce").fillna(c["mean"]).to_numpy(np.float64)
            else:
                v = np.array(["" if x != x else str(x) for x in v.tolist()], dtype=object)  # x != x: NaN
            cols[c["name"]].append(v[keep])
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    # A target gap in one of several targets stays NaN: the statistics need numbers, so such steps go.
    ok = np.ones(len(out[encoder.targets[0]]), dtype=bool)
    for t in encoder.targets:
        ok &= np.isfinite(out[t])
    what = (f"{len(lengths)} series, {int(ok.sum())} steps with a target value; histories of "
            f"{min(lengths, default=0)}-{max(lengths, default=0)} steps")
    return {k: v[ok] for k, v in out.items()}, what


def training_rows(data_cfg, encoder) -> tuple[dict[str, np.ndarray], str]:
    """The training period of a forecasting run's own file (data.timeseries cuts each series the same way)."""
    from dlbench.data.series_frame import read_series_csv, split_series
    from dlbench.data.timeseries import bounds

    frame = read_series_csv(data_cfg.path)
    series, _, _ = split_series(frame, encoder.time, encoder.id, encoder.targets, encoder.covariates,
                                encoder.time_format, encoder.frequency, str(data_cfg.path))
    kept = [s for s in series if s.key in encoder.stats]  # the series long enough to train on
    rows, what = history_rows(kept, encoder, [bounds(len(s.y), data_cfg)[0] for s in kept])
    return rows, f"training period of {data_cfg.path}: {what}"


def file_rows(path: str, encoder) -> tuple[dict[str, np.ndarray], str]:
    """(rows, a description) of a history CSV, checked as `dlbench predict` checks it."""
    from dlbench.data.series_frame import check_targets, read_series_csv, split_series

    if not str(path).endswith(".csv"):
        raise UserError(f"{path}: a forecasting run's new data is a CSV of series history",
                        "give a CSV with the training file's columns")
    frame = read_series_csv(path)
    needed = {encoder.time, *encoder.targets, *encoder.covariates} | ({encoder.id} if encoder.id else set())
    if not needed <= set(frame.columns):
        raise UserError(f"{path}: no column {', '.join(sorted(needed - set(frame.columns)))}",
                        f"the model reads columns {', '.join(sorted(needed))}")
    check_targets(frame, encoder.targets, path)
    series, _, _ = split_series(frame, encoder.time, encoder.id, encoder.targets, encoder.covariates,
                                encoder.time_format, encoder.frequency, str(path), future_ok=True)
    rows, what = history_rows(series, encoder)
    if not len(rows[encoder.targets[0]]):
        raise UserError(f"{path}: no step has a value in {', '.join(encoder.targets)}", "give the series' history")
    return rows, f"{path}: {what}"
