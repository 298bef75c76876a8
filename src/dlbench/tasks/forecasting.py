"""Forecasting: the loss on scaled targets, metrics in the target's units next to the naive (last value) and
seasonal-naive baselines on the same windows, and the verdict against them.

Model outputs are [N, horizon * targets] (DIRECT multi-step: every step at once), scaled as the data scaled the
targets (data/timeseries.py): forecast = output * scale + level, per window. The split's `y` holds the scaled
targets and their observed mask, so a missing value is never a training target nor an error in a metric.
"""
from __future__ import annotations

import numpy as np
import torch

from dlbench.metrics.forecasting import forecast_metrics, mae_by_horizon, quantile_metrics
from dlbench.tasks.supervised import collect_outputs, forward_batched

BASELINES = ("naive", "seasonal_naive")
"""Their names in result.json: naive = the last observed value, seasonal_naive = the value one season back."""


class ForecastTask:
    name = "forecasting"
    metrics = {"loss": "min", "mae": "min", "rmse": "min", "smape": "min", "mase": "min"}
    metric = "val.mase"

    def __init__(self, spec, label_smoothing: float = 0.0):
        self.spec = spec
        self.horizon = int(spec.extras["horizon"])
        self.k = len(spec.extras["targets"])
        self.kind = spec.extras.get("loss", "mae")
        self.quantiles = list(spec.extras.get("quantiles") or [])

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The point loss over observed targets, plus the mean pinball loss of the quantile outputs."""
        n = self.horizon * self.k
        z, mask = y[:, :n], y[:, n:]
        o = out.float().reshape(len(out), n, 1 + len(self.quantiles))  # [N, H * k, point + quantiles]
        err = o[..., 0] - z
        per = err.abs() if self.kind == "mae" else err * err
        seen = mask.sum().clamp(min=1)
        loss = (per * mask).sum() / seen
        if self.quantiles:
            q = torch.tensor(self.quantiles, device=out.device)
            d = z[..., None] - o[..., 1:]
            loss = loss + (torch.maximum(q * d, (q - 1) * d) * mask[..., None]).sum() / (seen * len(self.quantiles))
        return loss

    def loss(self, model, x, y):
        return self._loss(model(x), y)

    def to_units(self, out: np.ndarray, level: np.ndarray, scale: np.ndarray, quantiles: bool = False) -> np.ndarray:
        """Scaled outputs [N, H * k * (1 + Q)] -> point forecasts [N, H, k] in the target's units, or with
        quantiles=True the quantile forecasts [N, H, k, Q]."""
        out = np.asarray(out, dtype=np.float64).reshape(len(out), self.horizon, self.k, 1 + len(self.quantiles))
        out = out[..., 1:] if quantiles else out[..., 0]
        tail = (slice(None), None, slice(None)) + ((None,) if quantiles else ())
        return out * scale[tail] + level[tail]

    def forecasts(self, model, split, batch_size, device, num_workers=0, autocast=None):
        out, y = collect_outputs(model, split, batch_size, device, num_workers, autocast)
        info = split.info
        return out, y, self.to_units(out.cpu().numpy(), info["level"], info["scale"])

    def evaluate(self, model, split, batch_size, device, detailed=False, num_workers=0, autocast=None) -> dict:
        out, y, pred = self.forecasts(model, split, batch_size, device, num_workers, autocast)
        info = split.info
        res = {"loss": self._loss(out, y).item(), **forecast_metrics(info["truth"], pred, info["mase"])}
        if self.quantiles:
            qpred = self.to_units(out.cpu().numpy(), info["level"], info["scale"], quantiles=True)
            res.update(quantile_metrics(info["truth"], qpred, self.quantiles))
        if detailed:
            res["baselines"] = {b: forecast_metrics(info["truth"], info[b], info["mase"]) for b in BASELINES}
            res["by_horizon"] = {"windows": len(split), "mae": {
                "model": mae_by_horizon(info["truth"], pred),
                **{b: mae_by_horizon(info["truth"], info[b]) for b in BASELINES}}}
        return res

    def predictions(self, outputs: torch.Tensor) -> dict[str, np.ndarray]:
        """Scaled outputs [N, H * k]; the series codec turns them into dated values (it knows each level)."""
        return {"prediction": outputs.float().cpu().numpy()}

    def predict(self, model, x: np.ndarray, device, beam=None) -> dict[str, np.ndarray]:
        return self.predictions(forward_batched(model, x, device))

    def errors(self, model, split, n: int, device, batch_size: int = 256) -> list[dict]:
        """The n windows with the largest MAE: rank, input (series and first forecast time), true, predicted,
        abs_error (their MAE), all in the target's units (first target)."""
        _, _, pred = self.forecasts(model, split, batch_size, device)
        truth = split.info["truth"]
        mae = np.nanmean(np.abs(pred - truth).reshape(len(pred), -1), axis=1)
        order = np.argsort(-mae, kind="stable")[:n]
        return [{"rank": r, "input": split.ids[i], "true": [None if not np.isfinite(v) else float(v) for v in truth[i, :, 0]],
                 "predicted": [float(v) for v in pred[i, :, 0]], "abs_error": float(mae[i])}
                for r, i in enumerate(order, 1)]

    def judge(self, diagnosis: dict, val: dict) -> dict:
        """The diagnosis with the comparison against the baselines on validation: a model whose MASE is not
        below the seasonal-naive forecast's is "worse than seasonal naive", whatever its fit."""
        base = val.get("baselines") or {}
        nv, sn = (base.get(b, {}).get("mase") for b in BASELINES)
        m = val.get("mase")
        if not all(isinstance(v, float) and np.isfinite(v) for v in (m, sn, nv)):
            return diagnosis
        d = dict(diagnosis)
        ev = {**(d.get("evidence") or {}), "val_mase": m, "seasonal_naive_val_mase": sn, "naive_val_mase": nv}
        if m >= sn:
            d["reason"] = (f"on validation the model's MASE {m:.3f} is not below the seasonal-naive forecast's "
                           f"{sn:.3f} (MAE {val['mae']:.4g} vs {base['seasonal_naive']['mae']:.4g}): forecasting the "
                           "value one season back does as well; try a longer data.context, more training or another "
                           f"family. Fit: {d.get('verdict')}: {d.get('reason')}")
            d["verdict"] = "worse than seasonal naive"
        else:
            last = "and" if m < nv else "but not"
            d["reason"] = (f"{d.get('reason')}; on validation the model beats the seasonal-naive forecast (MASE {m:.3f} "
                           f"vs {sn:.3f}) {last} the last value (MASE {nv:.3f})")
        d["evidence"] = ev
        return d
