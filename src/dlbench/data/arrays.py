"""User NPZ files: arrays `x` (samples first) and `y` (class ids or regression targets)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from dlbench.data.bundle import DataSpec
from dlbench.data.common import SplitOptions, bundle_from_arrays
from dlbench.data import replay
from dlbench.data.preprocess import ArrayPreprocessor, preprocessor_from_json
from dlbench.data.split import split_indices
from dlbench.errors import UserError


class NpzData(SplitOptions):
    kind: Literal["npz"] = "npz"
    """An .npz file with arrays x [N, ...] and y [N] (or [N, k] for multi-output regression)."""
    path: str
    """The .npz file (numpy.savez) holding arrays x and y; relative paths are from the working directory."""
    task: Literal["auto", "classification", "regression"] = "auto"
    """auto: classification when y holds integers."""
    standardize: bool = True
    """Standardize each feature with training-split mean and std."""


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"data file not found: {path}")
    try:
        with np.load(p, allow_pickle=False) as f:  # never unpickle object arrays from disk
            return {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError) as e:
        raise UserError(f"{path}: not a readable .npz file of numeric arrays ({e})") from None


def build_npz(cfg: NpzData):
    arrays = load_npz(cfg.path)
    if "x" not in arrays or "y" not in arrays:
        raise UserError(f"{cfg.path}: needs arrays named 'x' and 'y' (found {', '.join(arrays) or 'none'})")
    x, y = arrays["x"], arrays["y"]
    if len(x) != len(y):
        raise UserError(f"{cfg.path}: x has {len(x)} samples but y has {len(y)}")
    if x.ndim < 2:
        x = x[:, None]
    if not np.issubdtype(x.dtype, np.number):
        raise UserError(f"{cfg.path}: x must be numeric (it has dtype {x.dtype})")
    task = cfg.task
    if task == "auto":
        task = "classification" if np.issubdtype(y.dtype, np.integer) and y.ndim == 1 else "regression"
    task = replay.task(task)
    if task == "classification":
        classes = np.unique(y)
        class_names = replay.classes([str(c) for c in classes], cfg.path)  # a finished model's, when built for it
        index = {c: i for i, c in enumerate(class_names)}
        y = np.array([index[str(v)] for v in y], dtype=np.int64)
    else:
        class_names = None
    shape = tuple(x.shape[1:])

    def fit():
        mean, std = 0.0, 1.0
        if cfg.standardize:
            tr, _, _ = split_indices(len(x), y if task == "classification" else None,
                                     (cfg.val_fraction, cfg.test_fraction), cfg.seed, task == "classification")
            xtr = x[tr].astype(np.float64)
            mean, s = xtr.mean(0), xtr.std(0)
            std = np.where(s > 1e-12, s, 1.0)
            mean, std = mean.tolist(), std.tolist()
        return ArrayPreprocessor(shape, mean, std)

    pre = replay.preprocessor(fit, preprocessor_from_json)
    spec = DataSpec(task, shape, len(class_names) if class_names else None, class_names,
                    target_dim=1 if y.ndim == 1 else int(y.shape[1]), extras=replay.extras({}))
    return bundle_from_arrays(cfg.path, pre.transform(x), y, spec, pre.to_json(), cfg)  # ids: "x[i]" of the file
