"""Forecast accuracy and the two baselines every forecast is compared with, as pure numpy functions.

Arrays of forecasts are [windows, horizon, targets] in the target's units; a NaN in `truth` is a value the
data does not have (a missing week): it is left out of every metric, never counted as an error.

- MAE, RMSE: in the target's units.
- sMAPE (Makridakis 1993, as in the M4 competition): 100 * mean(2 |y - ŷ| / (|y| + |ŷ|)), in percent (0..200);
  a point where both y and ŷ are 0 counts as 0.
- MASE (Hyndman & Koehler 2006): mean |y - ŷ| divided by the in-sample MAE of the one-season-back
  (seasonal-naive) forecast on the training period of the same series, `mase_scale`. Below 1: better than
  the seasonal-naive forecast did on the training data.

Baselines from the history up to each forecast origin T (index of the first forecast step):
- naive (last value): ŷ[T + h] = y[T - 1], the last observed value, for every step h = 0..H-1;
- seasonal naive: ŷ[T + h] = y[T + h - m * ceil((h + 1) / m)], the value one (or more) seasons back.
"""
from __future__ import annotations

import math

import numpy as np


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """history [n, k] (no NaN: missing values already filled causally) -> [horizon, k]: the last value repeated."""
    return np.repeat(np.asarray(history, dtype=np.float64)[-1:], horizon, axis=0)


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """history [n, k] -> [horizon, k]: step h is the value `season * ceil((h + 1) / season)` steps before it.
    With less than a season of history the naive forecast stands in (there is no value a season back)."""
    h = np.asarray(history, dtype=np.float64)
    n = len(h)
    if season <= 1 or n < season:
        return naive_forecast(h, horizon)
    idx = np.array([n + j - season * math.ceil((j + 1) / season) for j in range(horizon)])
    return h[idx]


def mase_scale(y: np.ndarray, season: int) -> np.ndarray:
    """y [n, k] of a training period (NaN: missing) -> [k]: the mean |y[t] - y[t - m]| over pairs where both are
    observed (m = season, or 1 when the series has no season). A constant series would divide by zero: its
    scale falls back to the one-step naive MAE, then to 1."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    out = np.ones(y.shape[1])
    for j in range(y.shape[1]):
        for m in dict.fromkeys((max(1, season), 1)):
            d = np.abs(y[m:, j] - y[:-m, j]) if len(y) > m else np.array([])
            d = d[np.isfinite(d)]
            if len(d) and d.mean() > 0:
                out[j] = d.mean()
                break
    return out


def forecast_metrics(truth: np.ndarray, pred: np.ndarray, scale: np.ndarray) -> dict:
    """truth, pred [N, H, k] (truth NaN where missing), scale [N, k] (each window's series' MASE scale)
    -> mae, rmse, smape, mase over every observed forecast point."""
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    seen = np.isfinite(truth)
    if not seen.any():
        return {"mae": float("nan"), "rmse": float("nan"), "smape": float("nan"), "mase": float("nan")}
    e = (pred - truth)[seen]
    denom = (np.abs(truth) + np.abs(pred))[seen]
    smape = np.where(denom > 0, 2 * np.abs(e) / np.where(denom > 0, denom, 1), 0.0)
    scaled = np.abs(pred - truth) / np.asarray(scale, dtype=np.float64)[:, None, :]
    return {"mae": float(np.abs(e).mean()), "rmse": float(np.sqrt((e ** 2).mean())),
            "smape": float(100 * smape.mean()), "mase": float(scaled[seen].mean())}


def mae_by_horizon(truth: np.ndarray, pred: np.ndarray) -> list[float | None]:
    """MAE of each forecast step 1..H over windows and targets (None for a step with no observed value)."""
    err = np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(truth, dtype=np.float64))
    out = []
    for h in range(err.shape[1]):
        e = err[:, h][np.isfinite(err[:, h])]
        out.append(float(e.mean()) if len(e) else None)
    return out


def quantile_metrics(truth: np.ndarray, qpred: np.ndarray, quantiles: list[float]) -> dict:
    """truth [N, H, k] (NaN missing), qpred [N, H, k, Q] -> the mean pinball (quantile) loss over observed points
    and quantiles, in the target's units, and, with two or more quantiles, the share of observed values inside
    [lowest, highest] quantile (`coverage`) next to the share it should hold (`coverage_nominal`)."""
    truth = np.asarray(truth, dtype=np.float64)
    qpred = np.asarray(qpred, dtype=np.float64)
    seen = np.isfinite(truth)
    q = np.asarray(quantiles, dtype=np.float64)
    d = truth[..., None] - qpred                                    # [N, H, k, Q]
    pin = np.maximum(q * d, (q - 1) * d)[seen]                      # [observed, Q]
    out = {"quantile_loss": float(pin.mean()) if pin.size else float("nan")}
    if len(q) >= 2:
        lo, hi = qpred[..., int(np.argmin(q))], qpred[..., int(np.argmax(q))]
        inside = ((truth >= lo) & (truth <= hi))[seen]
        out["coverage"] = float(inside.mean()) if inside.size else float("nan")
        out["coverage_nominal"] = float(q.max() - q.min())
    return out
