"""Preprocessing fitted on the training split only, stored as JSON, replayed exactly at predict time."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dlbench.errors import UserError


class ArrayPreprocessor:
    """Arrays of a fixed per-sample shape: reshape, then (x - mean) / std (scalars or per-feature)."""
    kind = "array"

    def __init__(self, input_shape, mean: Any = 0.0, std: Any = 1.0):
        self.input_shape = tuple(int(s) for s in input_shape)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.number):
            raise UserError(f"input has dtype {x.dtype}; the model needs numbers")
        want = int(np.prod(self.input_shape))
        per = int(np.prod(x.shape[1:])) if x.ndim > 1 else (1 if x.ndim == 1 else 0)
        if x.ndim == 0 or per != want:
            raise UserError(f"input has shape {list(x.shape)}; the model expects [N, {', '.join(map(str, self.input_shape))}]"
                            f" ({want} values per sample)")
        x = x.reshape(len(x), *self.input_shape).astype(np.float32)
        return (x - self.mean) / self.std  # scalars or per-feature arrays of input_shape

    def to_json(self) -> dict:
        return {"kind": self.kind, "input_shape": list(self.input_shape),
                "mean": self.mean.tolist(), "std": self.std.tolist()}


class TabularPreprocessor:
    """CSV columns -> float features: numeric standardized, categorical one-hot, both with train statistics."""
    kind = "tabular"

    def __init__(self, numeric: list[dict], categorical: list[dict], impute: str = "none"):
        self.numeric = numeric          # [{"name", "mean", "std", "fill"}]
        self.categorical = categorical  # [{"name", "categories", "fill"}]
        self.impute = impute

    @classmethod
    def fit(cls, frame, columns: list[str], impute: str) -> "TabularPreprocessor":
        import pandas as pd

        numeric, categorical = [], []
        for c in columns:
            col = frame[c]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                vals = col.astype(float)
                fill = {"mean": vals.mean(), "median": vals.median()}.get(impute)
                if impute == "most_frequent":
                    fill = vals.mode().iloc[0] if vals.notna().any() else 0.0
                std = float(vals.std(ddof=0)) if vals.notna().sum() > 1 else 1.0
                numeric.append({"name": c, "mean": float(vals.mean()) if vals.notna().any() else 0.0,
                                "std": std if std > 1e-12 else 1.0,
                                "fill": None if fill is None or pd.isna(fill) else float(fill)})
            else:
                vals = col.astype("string")
                cats = sorted(vals.dropna().unique().tolist())
                fill = vals.mode().iloc[0] if impute != "none" and vals.notna().any() else None
                categorical.append({"name": c, "categories": cats, "fill": None if fill is None else str(fill)})
        return cls(numeric, categorical, impute)

    @property
    def feature_names(self) -> list[str]:
        return [n["name"] for n in self.numeric] + [f"{c['name']}={v}" for c in self.categorical for v in c["categories"]]

    @property
    def columns(self) -> list[str]:
        return [n["name"] for n in self.numeric] + [c["name"] for c in self.categorical]

    def transform(self, frame) -> np.ndarray:
        import pandas as pd

        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise UserError(f"input is missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                            f"the model was trained on columns {', '.join(self.columns)}")
        frame = frame[self.columns]
        if self.impute == "none":
            bad = frame.isna()
            if bad.values.any():
                rows = [int(i) for i in np.flatnonzero(bad.values.any(axis=1))[:5]]
                cols = [c for c in self.columns if bad[c].any()]
                raise UserError(f"missing values in column(s) {', '.join(cols)} (rows {', '.join(map(str, rows))}"
                                f"{', ...' if bad.values.any(axis=1).sum() > 5 else ''})",
                                "fill them, or set data.impute: mean | median | most_frequent | drop")
        parts = []
        for n in self.numeric:
            col = pd.to_numeric(frame[n["name"]], errors="coerce")
            nonnum = col.isna() & frame[n["name"]].notna()
            if nonnum.any():
                raise UserError(f"column {n['name']} must be numeric; row {int(np.flatnonzero(nonnum.values)[0])} "
                                f"holds {frame[n['name']][nonnum].iloc[0]!r}")
            inf = np.isinf(col.to_numpy(dtype=np.float64))
            if inf.any():  # it would reach the loss as inf/NaN and look like a divergence
                rows = np.flatnonzero(inf)
                raise UserError(f"column {n['name']} holds {col.iloc[rows[0]]} in row {int(rows[0])}"
                                f"{f' and {len(rows) - 1} more row(s)' if len(rows) > 1 else ''}",
                                "the model needs finite numbers: fix those cells")
            col = col.fillna(n["fill"] if n["fill"] is not None else n["mean"]).to_numpy(dtype=np.float64)
            parts.append(((col - n["mean"]) / n["std"])[:, None])
        for c in self.categorical:
            col = frame[c["name"]].astype("string")
            if c["fill"] is not None:
                col = col.fillna(c["fill"])
            onehot = np.zeros((len(frame), len(c["categories"])))
            index = {v: i for i, v in enumerate(c["categories"])}
            for r, v in enumerate(col.tolist()):
                if v in index:  # unseen categories stay all-zero: "none of the known ones"
                    onehot[r, index[v]] = 1.0
            parts.append(onehot)
        return np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((len(frame), 0), np.float32)

    def to_json(self) -> dict:
        return {"kind": self.kind, "numeric": self.numeric, "categorical": self.categorical, "impute": self.impute}


# Images are resized to a few dozen pixels a side, so a real one is rarely over a few megapixels; a
# header claiming more than this is a decompression bomb (a tiny PNG that decodes to gigabytes) or a mistake.
MAX_IMAGE_PIXELS = 100_000_000


@contextmanager
def open_image(path: str | Path):
    """`PIL.Image.open` with the pixel limit above: too large is a UserError naming the file."""
    from PIL import Image

    # PIL warns above its limit and raises above twice it; the limit is a process-wide global, so it is
    # set for this open only and put back (matplotlib and others read PNGs in the same process)
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(f"image {path} is larger than {MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)",
                        "remove the file, or shrink it first: dlbench resizes every image to data.size") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    with im:
        yield im


class ImagePreprocessor:
    """Image files -> [N, C, H, W] floats in [0, 1], converted to the trained size and channel count."""
    kind = "image"

    def __init__(self, size: tuple[int, int], channels: int):
        self.size = (int(size[0]), int(size[1]))
        self.channels = int(channels)

    def load(self, path: str | Path) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with open_image(path) as im:
                im = im.convert("L" if self.channels == 1 else "RGB")
                if im.size != (self.size[1], self.size[0]):
                    im = im.resize((self.size[1], self.size[0]), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise UserError(f"cannot read image {path}: {e}", "remove or replace the file") from None
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)

    def transform(self, paths) -> np.ndarray:
        return np.stack([self.load(p) for p in paths]) if len(paths) else np.zeros((0, self.channels, *self.size), np.float32)

    def to_json(self) -> dict:
        return {"kind": self.kind, "size": list(self.size), "channels": self.channels}


def preprocessor_from_json(d: dict):
    kind = d.get("kind")
    if kind == "array":
        return ArrayPreprocessor(d["input_shape"], d["mean"], d["std"])
    if kind == "tabular":
        return TabularPreprocessor(d["numeric"], d["categorical"], d.get("impute", "none"))
    if kind == "image":
        return ImagePreprocessor(tuple(d["size"]), d["channels"])
    from dlbench.data.registry import extra_preprocessor

    return extra_preprocessor(d)
