"""The fitted encoding of forecasting windows (statistics from the training period only), stored in model.json
as JSON (`kind: series`) and replayed by `dlbench predict`. The layout of a window is described in
data/series_frame.py."""
from __future__ import annotations

import numpy as np

from dlbench.data.series_frame import Series, ffill, phase
from dlbench.errors import UserError


def fit_columns(frame, names: list[str]) -> list[dict]:
    """Covariate encodings from training rows: numbers standardized, anything else one-hot."""
    import pandas as pd

    out = []
    for c in names:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            v = col.astype(float)
            std = float(v.std(ddof=0)) if v.notna().sum() > 1 else 1.0
            out.append({"name": c, "type": "numeric", "mean": float(v.mean()) if v.notna().any() else 0.0,
                        "std": std if std > 1e-12 else 1.0})
        else:
            out.append({"name": c, "type": "categorical",
                        "categories": sorted(col.dropna().astype(str).unique().tolist())})
    return out


def encode_columns(frame, specs: list[dict]) -> np.ndarray:
    """Covariate columns on a series' grid -> [n, features]; gaps take the last value (then the training mean,
    or no category), unseen categories are all-zero."""
    import pandas as pd

    parts = []
    for c in specs:
        col = frame[c["name"]].ffill()
        if c["type"] == "numeric":
            v = pd.to_numeric(col, errors="coerce")
            bad = v.isna() & col.notna()
            if bad.any():
                raise UserError(f"covariate column {c['name']} must be numeric; it holds {col[bad].iloc[0]!r}")
            v = v.fillna(c["mean"]).to_numpy(np.float64)
            parts.append(((v - c["mean"]) / c["std"])[:, None])
        else:
            index = {v: i for i, v in enumerate(c["categories"])}
            onehot = np.zeros((len(col), len(c["categories"])))
            for r, v in enumerate(col.astype("string").tolist()):
                if v in index:
                    onehot[r, index[v]] = 1.0
            parts.append(onehot)
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))


class SeriesEncoder:
    """Everything that turns a series into model windows, fitted on the training period (JSON round trip)."""
    kind = "series"

    def __init__(self, d: dict):
        self.d = d
        for k in ("time", "time_format", "time_kind", "frequency", "id", "targets", "known", "observed", "season",
                  "context", "horizon", "normalize", "stats"):
            setattr(self, k, d[k])

    def to_json(self) -> dict:
        return {"kind": self.kind, **self.d}

    @classmethod
    def from_json(cls, d: dict) -> "SeriesEncoder":
        return cls({k: v for k, v in d.items() if k != "kind"})

    @property
    def covariates(self) -> list[str]:
        return [c["name"] for c in self.known + self.observed]

    @property
    def feature_names(self) -> list[str]:
        def names(specs, tag):
            return [n for c in specs for n in ([f"{tag}:{c['name']}"] if c["type"] == "numeric" else
                                               [f"{tag}:{c['name']}={v}" for v in c["categories"]])]
        k = self.targets
        return ([f"target:{t}" for t in k] + [f"observed:{t}" for t in k] + ["future"] + names(self.known, "known")
                + names(self.observed, "observed") + (["season_sin", "season_cos"] if self.season > 1 else []))

    @property
    def channels(self) -> int:
        return len(self.feature_names)

    def series_stats(self, s: Series) -> dict:
        """The series' target mean and scale from training; a series unseen in training takes its own history's."""
        st = self.stats.get(s.key)
        if st is None:
            y = s.y[np.isfinite(s.y).all(axis=1)] if np.isfinite(s.y).any() else np.zeros((1, len(self.targets)))
            std = y.std(0)
            st = {"mean": y.mean(0).tolist(), "scale": np.where(std > 1e-12, std, 1.0).tolist()}
        return st

    def features(self, s: Series) -> dict:
        """Per-step arrays of a series: y (raw, NaN missing), yf (filled causally), mask, known, observed, phase."""
        ph = np.asarray(phase(s.times, self.frequency, self.time_kind, self.season), dtype=np.float64)
        season = np.stack([np.sin(2 * np.pi * ph), np.cos(2 * np.pi * ph)], 1) if self.season > 1 else \
            np.zeros((len(s.y), 0))
        return {"y": s.y, "yf": ffill(s.y), "mask": np.isfinite(s.y).astype(np.float64),
                "known": encode_columns(s.frame, self.known), "observed": encode_columns(s.frame, self.observed),
                "season": season}

    def levels(self, f: dict, origins: np.ndarray, stats: dict) -> np.ndarray:
        """[N, k]: what each window's targets are measured from: the last observed value before its origin
        (normalize: window), or the series' training mean (normalize: series)."""
        if self.normalize == "series":
            return np.repeat(np.asarray(stats["mean"], np.float64)[None], len(origins), 0)
        lv = f["yf"][origins - 1]
        return np.where(np.isfinite(lv), lv, np.asarray(stats["mean"])[None])

    def windows(self, f: dict, origins: np.ndarray, stats: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model inputs [N, F, context + horizon] for forecast origins (index of the first forecast step),
        with their levels [N, k] and scales [N, k]."""
        C, H = self.context, self.horizon
        idx = origins[:, None] + np.arange(-C, H)[None]           # [N, T]
        future = (np.arange(-C, H) >= 0).astype(np.float64)        # [T]
        level = self.levels(f, origins, stats)
        scale = np.repeat(np.asarray(stats["scale"], np.float64)[None], len(origins), 0)
        tgt = (f["yf"][idx] - level[:, None]) / scale[:, None]     # [N, T, k]
        tgt = np.where(np.isfinite(tgt), tgt, 0.0) * (1 - future)[None, :, None]
        mask = f["mask"][idx] * (1 - future)[None, :, None]
        obs = f["observed"][idx] * (1 - future)[None, :, None]
        n = len(origins)
        parts = [tgt, mask, np.broadcast_to(future[None, :, None], (n, C + H, 1)), f["known"][idx], obs,
                 f["season"][idx]]
        x = np.concatenate(parts, axis=2).transpose(0, 2, 1)       # [N, F, T]
        return np.ascontiguousarray(x, dtype=np.float32), level, scale
