"""The forecasting part of a run report: the model next to the naive and seasonal-naive baselines (validation and
test, from result.json), the error by forecast step, and forecasts against the actual series with their residuals
(validation windows, recomputed from the run's model: the test split stays sealed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.report import figures as F
from dlbench.report.document import Absent, Section, Table, Text

NAMES = {"model": "model", "naive": "naive (last value)", "seasonal_naive": "seasonal naive"}


def sections(p: Path, task: str | None, result: dict | None, info: dict | None) -> list[Section]:
    if task != "forecasting":
        return []
    return [baselines(result, info), forecasts(p, result, info)]


def baselines(result: dict | None, info: dict | None) -> Section:
    s = Section("Forecast accuracy against the baselines")
    val, test = (result or {}).get("val") or {}, (result or {}).get("test") or {}
    if not isinstance(val.get("baselines"), dict):
        return s.add(Absent("baseline comparison", "result.json has no baselines (the run has not finished)"))
    e = ((info or {}).get("spec") or {}).get("extras") or {}
    rows = []
    for split, d in (("validation", val), ("test", test)):
        if not d:
            continue
        for name in NAMES:
            m = d if name == "model" else (d.get("baselines") or {}).get(name) or {}
            rows.append([f"{split}: {NAMES[name]}", m.get("mae"), m.get("rmse"), m.get("smape"), m.get("mase")])
    s.add(Table(["forecast", "MAE", "RMSE", "sMAPE %", "MASE"], rows,
                f"All three forecasts on the same windows ({e.get('horizon', '?')} steps ahead, direct multi-step); "
                f"MASE divides the MAE by the training period's seasonal-naive MAE (season {e.get('season', '?')} "
                "steps): below 1 beats it. Test numbers are those of the one test evaluation in result.json."))
    sn = (val.get("baselines") or {}).get("seasonal_naive", {}).get("mase")
    if isinstance(sn, float) and isinstance(val.get("mase"), float):
        better = val["mase"] < sn
        s.add(Text(f"On validation the model's MASE is {val['mase']:.3f} against {sn:.3f} for the seasonal-naive "
                   f"forecast: it is {'better' if better else 'worse; the baseline is the forecast to use'}.",
                   "good" if better else "bad"))
    byh = (val.get("by_horizon") or {}).get("mae") or {}
    if byh.get("model"):
        fig, axes = F.new(6.4, 2.8)
        ax = axes[0, 0]
        for (name, v), colour in zip(byh.items(), (F.TRAIN, F.IDEAL, F.VAL)):
            ax.plot(range(1, len(v) + 1), [np.nan if x is None else x for x in v], marker="o", ms=3,
                    color=colour, label=NAMES.get(name, name))
        ax.set(xlabel="steps ahead", ylabel="MAE (target units)", title="validation error by forecast step")
        ax.legend()
        s.add(F.to_figure(fig, "validation MAE of the model and the baselines at each forecast step",
                          "The error of each step of the horizon, on validation windows: a naive forecast's error "
                          "grows with the distance; a good model stays below both baselines at every step."))
    return s


def _validation(p: Path):
    from dlbench.data import build_data
    from dlbench.run.load import load_run

    run = load_run(p, device="cpu")  # a report takes no accelerator
    return run, build_data(run.config.data).val


def forecasts(p: Path, result: dict | None, info: dict | None) -> Section:
    s = Section("Forecasts against the actual series (validation)")
    if result is None:
        return s.add(Absent("forecast plots", "the run has no final model yet (not finished)"))
    try:
        run, val = _validation(p)
        out, _, pred = run.task.forecasts(run.model, val, 512, run.device)
        qs = run.task.quantiles
        band = run.task.to_units(out.cpu().numpy(), val.info["level"], val.info["scale"], quantiles=True) \
            if len(qs) >= 2 else None
    except (UserError, RuntimeError, ValueError, OSError, KeyError) as e:
        return s.add(Absent("forecast plots", f"could not forecast the validation windows: {e}"))
    info_ = val.info
    series = info_["series"]
    first = series[0]
    pick = np.flatnonzero(series == first)
    truth, pred, snaive = info_["truth"][pick, :, 0], pred[pick, :, 0], info_["seasonal_naive"][pick, :, 0]
    if band is not None:
        band = band[pick, :, 0][..., [int(np.argmin(qs)), int(np.argmax(qs))]]  # [windows, H, lo/hi]
    H = truth.shape[1]
    x = np.arange(len(pick))  # window origins in order: one step apart
    origins = info_["origin"][pick]
    fig, axes = F.new(7.0, 3.2)
    ax = axes[0, 0]
    ax.plot(x, truth[:, 0], color="black", lw=1.2, label="actual")
    for i, o in enumerate(range(0, len(pick), H)):  # forecasts that tile the period, one per horizon
        ax.plot(o + np.arange(H), pred[o], color=F.TRAIN, lw=1.2, label="model forecast" if i == 0 else None)
        if band is not None:
            ax.fill_between(o + np.arange(H), band[o, :, 0], band[o, :, 1], color=F.TRAIN, alpha=0.2, lw=0,
                            label=f"quantiles {min(qs):g}-{max(qs):g}" if i == 0 else None)
        ax.plot(o + np.arange(H), snaive[o], color=F.VAL, lw=0.9, ls="--", label="seasonal naive" if i == 0 else None)
    ticks = np.linspace(0, len(pick) - 1, min(6, len(pick))).astype(int)
    ax.set_xticks(ticks, [str(origins[t]) for t in ticks])
    name = f"series '{first}'" if first else "the series"
    ax.set(ylabel=", ".join(run.spec.extras["targets"][:1]), title=f"{H}-step forecasts over the validation period")
    ax.legend()
    s.add(F.to_figure(fig, f"forecasts of {name} against the actual values on validation",
                      f"Each blue segment is one forecast of {H} steps made at its start from the history before it "
                      "(non-overlapping origins, so the segments tile the period); dashed: the seasonal-naive "
                      f"forecast from the same origins; black: what happened. {name[0].upper() + name[1:]}, first target."))
    fig, axes = F.new(7.0, 2.8, ncols=2)
    for ax, h in zip(axes[0], (0, H - 1)):
        res = truth[:, h] - pred[:, h]
        ax.plot(x + h, res, color=F.TRAIN, lw=0.8)
        ax.axhline(0, color=F.IDEAL, ls="--", lw=1)
        ax.set(xlabel="validation step", ylabel="actual − forecast", title=f"residuals, {h + 1} step(s) ahead")
    s.add(F.to_figure(fig, "validation residuals one step and a full horizon ahead",
                      "Residuals should hover around zero without a trend or a seasonal pattern: a pattern left in "
                      "them is structure the model has not learned."))
    return s
