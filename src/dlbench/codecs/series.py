"""Time series history (CSV) in, the next `horizon` values with their timestamps out (`dlbench predict`).

The history file has the training file's columns: the time column, the target(s), the id column when there
are several series, and the covariates. Each series' forecast starts one step after its last row with a
target value; the model reads the `context` steps before that. Covariates known in advance need their values
for the forecast steps too: rows after the history with those columns filled and the target left empty.
"""
from __future__ import annotations

import numpy as np

from dlbench.codecs.base import Codec, check_exists
from dlbench.data.series_encode import SeriesEncoder
from dlbench.data.series_frame import Series, check_targets, split_series, time_text
from dlbench.errors import UserError


def _future_times(times, n: int, frequency, kind: str):
    import pandas as pd

    if kind == "int":
        return np.asarray(times[-1] + int(frequency) * np.arange(1, n + 1), dtype=np.int64)
    return pd.date_range(times[-1], periods=n + 1, freq=frequency)[1:]


class SeriesCodec(Codec):
    kind = "series"

    @classmethod
    def from_json(cls, d: dict) -> "SeriesCodec":
        return cls(SeriesEncoder.from_json(d))

    def read(self, path):
        from dlbench.data.tabular import read_csv

        p = check_exists(path)
        if p.suffix != ".csv":
            raise UserError(f"{path}: unsupported input type '{p.suffix}'",
                            "give a CSV of the series' history (the training file's columns)")
        e = self.pre
        frame = read_csv(p)
        needed = [e.time, *e.targets, *([e.id] if e.id else []), *e.covariates]
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise UserError(f"{path}: no column {', '.join(absent)}", f"the model reads columns {', '.join(needed)}")
        check_targets(frame, e.targets, path)
        series, _, kind = split_series(frame, e.time, e.id, e.targets, e.covariates, e.time_format, e.frequency,
                                       str(path), future_ok=True)
        if not series:
            raise UserError(f"{path}: no row has a value in {', '.join(e.targets)}", "give the series' history")
        xs, rows = [], []
        for s in series:
            x, row = self._one(s, kind, path)
            xs.append(x)
            rows.append(row)
        return np.concatenate(xs), rows

    def _one(self, s: Series, kind: str, path):
        import pandas as pd

        e, C, H = self.pre, self.pre.context, self.pre.horizon
        seen = np.isfinite(s.y).any(axis=1)
        n_hist = len(seen) - int(np.argmax(seen[::-1]))       # up to the last row with a target value
        name = f"series '{s.key}'" if s.key else "the history"
        if n_hist < C:
            raise UserError(f"{path}: {name} has {n_hist} steps; the model reads the last {C} (its context)",
                            f"give at least {C} steps of history")
        future = s.frame.iloc[n_hist:n_hist + H]
        if e.known:
            names = [c["name"] for c in e.known]
            short = len(future) < H or future[names].isna().any().any()
            if short:
                raise UserError(f"{path}: {name} needs the known covariates {', '.join(names)} for the {H} steps "
                                f"after its last target value ({len(future)} row(s) given, some may be empty)",
                                "add those rows with the covariates filled and the target left empty")
        times = s.times[:n_hist]
        fut = _future_times(times, H, e.frequency, kind)
        full = np.concatenate([np.asarray(times), fut]) if kind == "int" else times.append(fut)
        cov = s.frame.iloc[:n_hist + H].reset_index(drop=True)
        cov = cov.reindex(range(n_hist + H))
        y = np.vstack([s.y[:n_hist], np.full((H, len(e.targets)), np.nan)])
        st = e.series_stats(Series(s.key, times, s.y[:n_hist], None))
        f = e.features(Series(s.key, full, y, pd.DataFrame(cov.to_numpy(), columns=cov.columns)))
        x, level, scale = e.windows(f, np.array([n_hist]), st)
        return x, {"series": s.key, "times": [time_text(t) for t in fut], "level": level[0], "scale": scale[0]}

    def forecasts(self, preds: dict, rows: list[dict]) -> np.ndarray:
        """Scaled model outputs [S, H * k * (1 + Q)] -> forecasts [S, H, k, 1 + Q] in the target's units (the
        point forecast, then the quantiles)."""
        e = self.pre
        out = np.asarray(preds["prediction"], dtype=np.float64).reshape(len(rows), e.horizon, len(e.targets), -1)
        scale, level = np.stack([r["scale"] for r in rows]), np.stack([r["level"] for r in rows])
        return out * scale[:, None, :, None] + level[:, None, :, None]

    def write_predictions(self, preds: dict, rows: list[dict], output: str | None) -> tuple[dict, str]:
        """One row per series and forecast step: [id,] time, step, target(s). Returns (forecasts, CSV text
        when output is None)."""
        import csv
        import io
        import json
        from pathlib import Path

        e = self.pre
        fc = self.forecasts(preds, rows)
        qs = self.quantiles
        header = ([e.id] if e.id else []) + [e.time, "step"] + [f"{t}{f'_q{q:g}' if q else ''}"
                                                                for t in e.targets for q in [None, *qs]]
        table = [([r["series"]] if e.id else []) + [t, h + 1] + [float(v) for v in fc[i, h].ravel()]
                 for i, r in enumerate(rows) for h, t in enumerate(r["times"])]
        result = {"forecast": fc[..., 0], "times": [r["times"] for r in rows], "series": [r["series"] for r in rows]}
        if qs:
            result["quantiles"] = fc[..., 1:]
        if output and output.endswith(".json"):
            Path(output).write_text(json.dumps([dict(zip(header, row)) for row in table]))
            return result, ""
        if output and not output.endswith(".csv"):
            raise UserError(f"--output {output}: unsupported extension for a forecast", "use .csv or .json")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(table)
        if output:
            Path(output).write_text(buf.getvalue())
            return result, ""
        return result, buf.getvalue()

    @property
    def quantiles(self) -> list[float]:
        return list(self.pre.d.get("quantiles") or [])

    def request_specs(self, input_shape):
        raise UserError("forecasting runs are not served over HTTP yet",
                        "forecast with `dlbench predict RUN history.csv --output next.csv`")

    def decode(self, inputs):
        self.request_specs(())

    def requests(self, split):
        raise UserError("bench infer does not build forecasting requests yet")


__all__ = ["SeriesCodec"]
