"""Time series in a CSV (data.kind: timeseries) -> forecasting windows split by time, with no leakage.

Split, per series: the first (1 - val_fraction - test_fraction) of its steps are the training period, then
the validation period, then the test period. A window is `context` steps of history and the `horizon` steps
that follow; it belongs to the split its horizon lies in, entirely, and its context is history before it
(an earlier split may supply it, as the past does at forecast time). No window reaches into a later split, and
every statistic (target scale, covariate means, categories, the MASE scale) comes from the training period.

Output: DIRECT multi-step: the model emits all `horizon` steps at once (no step is fed back as an input).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, Split
from dlbench.config.base import Section
from dlbench.data.series_encode import SeriesEncoder, fit_columns
from dlbench.data.series_frame import check_targets, read_series_csv, season_of, split_series, time_text
from dlbench.errors import UserError
from dlbench.metrics.forecasting import mase_scale

TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "week", "month", "day", "period", "t", "step", "year")


class TimeSeriesData(Section):
    kind: Literal["timeseries"] = "timeseries"
    """A CSV of one or many time series: a time column, target column(s), optional covariates and series id."""
    path: str
    """The CSV file (a header row naming the columns); relative paths are from the working directory."""
    target: str | list[str]
    """The column(s) to forecast (numbers; empty cells are missing values)."""
    time: str | None = None
    """The time column: dates (parsed by pandas) or integer steps; null: the column named date/time/timestamp/...,
    or the only one whose values read as dates."""
    id: str | None = None
    """The column naming the series when the file holds several (one series per distinct value)."""
    known: list[str] = Field(default_factory=list)
    """Covariates known in advance (prices, holidays, planned events): `predict` needs their future values."""
    observed: list[str] = Field(default_factory=list)
    """Covariates observed only up to the forecast origin (they feed the context, not the horizon)."""
    frequency: str | int | None = None
    """Grid step: a pandas offset alias (W-SUN, D, h, MS) for dates, an integer for integer times; null: inferred
    (pandas.infer_freq)."""
    time_format: str | None = None
    """strftime format of the time column (e.g. %d/%m/%Y); null: pandas reads it."""
    season: int | None = Field(None, ge=1)
    """Seasonal period in steps (seasonal-naive baseline, MASE, season features); null: from the frequency
    (weekly 52, daily 7, hourly 24, monthly 12, quarterly 4; 1 for integer steps)."""
    context: int | None = Field(None, ge=1)
    """Steps of history the model reads (lookback); null: the larger of one season and twice the horizon."""
    horizon: int | None = Field(None, ge=1)
    """Steps forecast at once (direct multi-step output); null: a quarter of the season (weekly: 13), or 8."""
    missing: Literal["fill", "error"] = "fill"
    """Missing timestamps and empty target cells: fill = take the last observed value (causal) and mark it in
    the observed-mask feature, leaving it out of the loss and the metrics; error = refuse the file, naming gaps."""
    normalize: Literal["window", "series"] = "window"
    """Targets as the model sees them: window = relative to the last observed value before each forecast (a
    trend outside the training range stays learnable), series = relative to the training mean; both divided
    by the series' training standard deviation."""
    loss: Literal["mae", "mse"] = "mae"
    """Training loss on the scaled targets: mae (what MAE and MASE measure) or mse."""
    stride: int = Field(1, ge=1)
    """Steps between the origins of training windows (validation and test use every origin)."""
    quantiles: list[float] = Field(default_factory=list)
    """Also forecast these quantiles (e.g. [0.1, 0.9]: an 80% interval), trained with the pinball loss next to the
    point forecast; scored by quantile_loss and coverage, written by predict as <target>_q<q> columns."""
    val_fraction: float = Field(0.1, gt=0, lt=1)
    """Share of each series' steps, just before the test period, for validation (model selection)."""
    test_fraction: float = Field(0.2, gt=0, lt=1)
    """Share of each series' steps, at its end, for the final test (opened once)."""

    @model_validator(mode="after")
    def _leave_training_data(self):
        if any(not 0 < q < 1 for q in self.quantiles) or len(set(self.quantiles)) != len(self.quantiles):
            raise ValueError("quantiles must be distinct numbers between 0 and 1 (e.g. [0.1, 0.9])")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must be < 1")
        return self


def default_horizon(season: int) -> int:
    return max(1, season // 4) if season >= 24 else (season if season > 1 else 8)


def default_context(season: int, horizon: int) -> int:
    return max(season, 2 * horizon)


@dataclass
class ForecastSplit(Split):
    """Windows of one split. `y` [N, 2 * H * k]: the scaled targets (h-major, then target) and their
    observed mask; `info` holds, per window, what metrics need in the target's units: level and scale [N, k],
    mase (the series' MASE scale) [N, k], truth, naive and seasonal_naive [N, H, k] (truth NaN where missing),
    series and origin (names)."""
    info: dict = field(default_factory=dict)

    def subset(self, n: int) -> "ForecastSplit":
        return ForecastSplit(self.x[:n], self.y[:n], ids=None if self.ids is None else self.ids[:n],
                             info={k: v[:n] for k, v in self.info.items()})


def find_time_column(frame, exclude: list[str]) -> str | None:
    """A column named like a time (date, time, timestamp, ds, week, ...) or the only text column that reads as dates."""
    import warnings

    import pandas as pd

    cols = [c for c in frame.columns if c not in exclude]
    named = [c for c in cols if str(c).strip().lower() in TIME_NAMES]
    if named:
        return named[0]
    dated = []
    for c in cols:
        col = frame[c].dropna()
        if col.empty or pd.api.types.is_numeric_dtype(col):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(col.astype(str).head(200), errors="coerce")
        if parsed.notna().mean() > 0.95:
            dated.append(c)
    return dated[0] if len(dated) == 1 else None


def _check_columns(frame, cfg: TimeSeriesData, targets: list[str]) -> str:
    import difflib

    cols = [str(c) for c in frame.columns]
    for key, names in (("target", targets), ("time", [cfg.time] if cfg.time else []),
                       ("id", [cfg.id] if cfg.id else []), ("known", cfg.known), ("observed", cfg.observed)):
        for n in names:
            if n not in cols:
                close = difflib.get_close_matches(n, cols, n=1)
                raise UserError(f"{cfg.path}: data.{key} names column '{n}', which the file does not have",
                                f"did you mean '{close[0]}'?" if close else f"columns are: {', '.join(cols[:20])}")
    time = cfg.time or find_time_column(frame, targets + ([cfg.id] if cfg.id else []))
    if time is None:
        raise UserError(f"{cfg.path}: no time column found", "name it with data.time")
    return time


def _refuse_gaps(series, where: str) -> None:
    gaps = [(s.key, t) for s in series for t, seen in zip(s.times, np.isfinite(s.y).all(axis=1)) if not seen]
    if gaps:
        shown = ", ".join(f"{t}{f' ({k})' if k else ''}" for k, t in gaps[:3])
        raise UserError(f"{where}: {len(gaps)} time step(s) have no target value (missing timestamps or empty "
                        f"cells), first {shown}",
                        "set data.missing: fill (the last observed value, masked out of loss and metrics), "
                        "or fill the gaps in the file")


def bounds(n: int, cfg: TimeSeriesData) -> tuple[int, int]:
    """(end of training, end of validation) of a series of n steps."""
    n_test, n_val = int(round(n * cfg.test_fraction)), int(round(n * cfg.val_fraction))
    return n - n_val - n_test, n - n_test


def build_timeseries(cfg: TimeSeriesData) -> DataBundle:
    targets = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    frame = read_series_csv(cfg.path)
    time = _check_columns(frame, cfg, targets)
    check_targets(frame, targets, cfg.path)
    series, freq, kind = split_series(frame, time, cfg.id, targets, cfg.known + cfg.observed, cfg.time_format,
                                      cfg.frequency, cfg.path)
    if not series:
        raise UserError(f"{cfg.path}: no row has a value in {', '.join(targets)}")
    if cfg.missing == "error":
        _refuse_gaps(series, cfg.path)
    season = cfg.season or season_of(freq, kind)
    H = cfg.horizon or default_horizon(season)
    C = cfg.context or default_context(season, H)
    kept, skipped = _usable(series, cfg, C, H)
    train_rows = [s.frame.iloc[:bounds(len(s.y), cfg)[0]] for s in kept]
    import pandas as pd

    train_frame = pd.concat(train_rows) if train_rows else frame.iloc[:0]
    stats = {}
    for s in kept:
        tr = s.y[:bounds(len(s.y), cfg)[0]]
        std = np.nanstd(tr, axis=0)
        stats[s.key] = {"mean": np.nanmean(tr, axis=0).tolist(), "scale": np.where(std > 1e-12, std, 1.0).tolist(),
                        "mase": mase_scale(tr, season).tolist()}
    enc = SeriesEncoder({"time": time, "time_format": cfg.time_format, "time_kind": kind,
                         "frequency": freq, "id": cfg.id, "targets": targets,
                         "known": fit_columns(train_frame, cfg.known), "observed": fit_columns(train_frame, cfg.observed),
                         "season": season, "context": C, "horizon": H, "normalize": cfg.normalize, "stats": stats,
                         "quantiles": sorted(cfg.quantiles)})
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for s in kept:
        f = enc.features(s)
        tr_end, va_end = bounds(len(s.y), cfg)
        n = len(s.y)
        for name, lo, hi, step in (("train", C, tr_end - H, cfg.stride), ("val", max(tr_end, C), va_end - H, 1),
                                   ("test", max(va_end, C), n - H, 1)):
            origins = np.arange(lo, hi + 1, step)
            if len(origins):
                parts[name].append(_windows(enc, s, f, origins))
    splits = {k: _join(v, C + H, enc, len(targets)) for k, v in parts.items()}
    for k, sp in splits.items():
        if len(sp) == 0:
            raise UserError(f"{cfg.path}: the {k} period has no window with an observed value to forecast",
                            "use a longer series, a shorter data.horizon or larger val/test fractions")
    quantiles = sorted(cfg.quantiles)
    spec = DataSpec("forecasting", (enc.channels, C + H), target_dim=H * len(targets) * (1 + len(quantiles)), extras={
        "quantiles": quantiles,
        "targets": targets, "horizon": H, "context": C, "season": season, "frequency": str(freq),
        "series": len(kept), "skipped_series": skipped, "missing_steps": int(sum(s.missing_steps for s in kept)),
        "steps": int(sum(len(s.y) for s in kept)), "missing": cfg.missing, "loss": cfg.loss, "output": "direct",
        "feature_names": enc.feature_names, "time": time})
    return DataBundle(splits["train"], splits["val"], SealedSplit(splits["test"]), spec, enc.to_json())


def _usable(series, cfg: TimeSeriesData, C: int, H: int):
    """The series long enough for a training window and a horizon in validation and test; the others are
    skipped with a warning (an error when none is left)."""
    import logging

    kept, why = [], []
    for s in series:
        n = len(s.y)
        tr_end, va_end = bounds(n, cfg)
        name = f"series '{s.key}'" if s.key else "the series"
        if n < C + H:
            why.append(f"{name} has {n} steps: fewer than one window (context {C} + horizon {H})"
                       "|lower data.context or data.horizon, or give a longer series")
        elif n - va_end < H:
            why.append(f"data.horizon {H} is longer than the test period of {name} ({n - va_end} of its {n} steps)"
                       "|lower data.horizon or raise data.test_fraction")
        elif va_end - tr_end < H:
            why.append(f"data.horizon {H} is longer than the validation period of {name} ({va_end - tr_end} of its "
                       f"{n} steps)|lower data.horizon or raise data.val_fraction")
        elif tr_end < C + H:
            why.append(f"{name} has {n} steps, of which {tr_end} for training: fewer than one window (context {C} + "
                       f"horizon {H})|lower data.context or data.horizon, or give a longer series")
        else:
            kept.append(s)
    if not kept:
        msg, hint = why[0].split("|")
        raise UserError(f"{cfg.path}: {msg}", hint)
    if why:
        logging.getLogger(__name__).warning("%s: %d series skipped, e.g. %s", cfg.path, len(why), why[0].split("|")[0])
    return kept, len(why)


def _windows(enc: SeriesEncoder, s, f: dict, origins: np.ndarray) -> dict:
    from dlbench.metrics.forecasting import seasonal_naive_forecast

    st = enc.stats[s.key]
    H, k = enc.horizon, len(enc.targets)
    truth = f["y"][origins[:, None] + np.arange(H)[None]]               # [N, H, k], NaN missing
    keep = np.isfinite(truth).any(axis=(1, 2))
    origins, truth = origins[keep], truth[keep]
    x, level, scale = enc.windows(f, origins, st)
    naive = np.repeat(f["yf"][origins - 1][:, None], H, 1)
    snaive = np.stack([seasonal_naive_forecast(f["yf"][:o], H, enc.season) for o in origins]) if len(origins) \
        else np.zeros((0, H, k))
    z = (truth - level[:, None]) / scale[:, None]
    y = np.concatenate([np.nan_to_num(z, nan=0.0).reshape(len(z), -1),
                        np.isfinite(truth).reshape(len(z), -1).astype(np.float64)], 1)
    names = [time_text(t) for t in s.times[origins]]
    return {"x": x, "y": y, "ids": [f"{s.key + ' ' if s.key else ''}{t}" for t in names],
            "info": {"level": level, "scale": scale, "mase": np.repeat(np.asarray(st["mase"])[None], len(origins), 0),
                     "truth": truth, "naive": naive, "seasonal_naive": snaive,
                     "series": np.array([s.key] * len(origins), dtype=object), "origin": np.array(names, dtype=object)}}


def _join(parts: list[dict], T: int, enc: SeriesEncoder, k: int) -> ForecastSplit:
    H = enc.horizon
    if not parts:
        return ForecastSplit(torch.zeros(0, enc.channels, T), torch.zeros(0, 2 * H * k), ids=[], info={})
    x = np.concatenate([p["x"] for p in parts])
    y = np.concatenate([p["y"] for p in parts])
    info = {key: np.concatenate([p["info"][key] for p in parts]) for key in parts[0]["info"]}
    return ForecastSplit(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)),
                         ids=[i for p in parts for i in p["ids"]], info=info)
