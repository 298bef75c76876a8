"""Options every dataset kind shares, and the step that turns arrays into a DataBundle."""
from __future__ import annotations

import numpy as np
import torch
from pydantic import Field, model_validator

from dlbench.config.base import Section
from dlbench.data import replay
from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, Split, check_nonempty
from dlbench.data.split import split_indices
from dlbench.errors import UserError


class SplitOptions(Section):
    val_fraction: float = Field(0.1, gt=0, lt=1)
    """Fraction of the data held out for validation (model selection, early stopping)."""
    test_fraction: float = Field(0.2, gt=0, lt=1)
    """Fraction held out for the final test. Ignored by datasets that ship their own test split."""
    seed: int = 0
    """Seed of the split (independent of train.seed, so changing the model seed keeps the split)."""

    @model_validator(mode="after")
    def _leave_training_data(self):
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must be < 1")
        return self


def to_tensor_split(x: np.ndarray, y: np.ndarray | None, idx: np.ndarray, task: str,
                    ids: list[str] | None = None) -> Split:
    """The samples `idx` of (x, y); `ids` (one per row of x) name them (`Split.ids`)."""
    xt = torch.from_numpy(np.ascontiguousarray(x[idx], dtype=np.float32))
    sid = None if ids is None else [ids[i] for i in idx]
    if y is None:
        return Split(xt, None, ids=sid)
    ydt = np.int64 if task == "classification" else np.float32
    return Split(xt, torch.from_numpy(np.ascontiguousarray(y[idx], dtype=ydt)), ids=sid)


def index_ids(name: str, n: int) -> list[str]:
    """`name[i]` for i in 0..n-1: samples of an array named `name`, 0-based as numpy indexes them."""
    return [f"{name}[{i}]" for i in range(n)]


def bundle_from_arrays(name: str, x: np.ndarray, y: np.ndarray, spec: DataSpec, preprocessing: dict,
                       opts: SplitOptions, test: tuple[np.ndarray, np.ndarray] | None = None,
                       ids: list[str] | None = None, test_ids: list[str] | None = None) -> DataBundle:
    """Split (x, y) into train/val/test (or train/val when the dataset has its own test split).

    `ids` names each row of x (and `test_ids` each row of the own test split) in the data's terms; by
    default "x[i]" (and "x_test[i]"), the row of the arrays as given."""
    ids = index_ids("x", len(x)) if ids is None else list(ids)
    if len(ids) != len(x):
        raise ValueError(f"{len(ids)} ids for {len(x)} samples")
    if replay.whole():  # a whole new file scored by a finished model (data/replay.py): every row, no split
        every = to_tensor_split(x, y, np.arange(len(x)), spec.task, ids)
        return DataBundle(every, every, SealedSplit(every), spec, preprocessing)
    classification = spec.task == "classification"
    fractions = (opts.val_fraction, 0.0 if test is not None else opts.test_fraction)
    if test is not None:  # carve validation from train; the dataset's own test split stays the test split
        tr, va, _ = split_indices(len(x), y, (opts.val_fraction, 0.0), opts.seed, classification)
        xt, yt = test
        test_ids = index_ids("x_test", len(xt)) if test_ids is None else list(test_ids)
        te_split = to_tensor_split(xt, yt, np.arange(len(xt)), spec.task, test_ids)
        te = np.arange(len(xt))
    else:
        tr, va, te = split_indices(len(x), y, fractions, opts.seed, classification)
        te_split = to_tensor_split(x, y, te, spec.task, ids)
    check_nonempty(name, {"train": len(tr), "validation": len(va), "test": len(te)},
                   "use more data or change data.val_fraction / data.test_fraction")
    if spec.task == "regression" and "target_mean" not in spec.extras:
        ytr = y[tr].astype(np.float64)
        spec.extras["target_mean"] = float(ytr.mean())
        spec.extras["target_std"] = float(ytr.std()) or 1.0
    return DataBundle(to_tensor_split(x, y, tr, spec.task, ids), to_tensor_split(x, y, va, spec.task, ids),
                      SealedSplit(te_split), spec, preprocessing)


def check_class_folders(path, root, classes: list[str], labels: list[int], missing: str, add: str) -> None:
    """Folder-of-classes data (images, audio): every sub-folder is a class, so an empty one (a class the model can
    never learn) and fewer than two are refused. `missing`: "no PNG/JPEG images"; `add`: "add images to it"."""
    counts = np.bincount(labels, minlength=len(classes))
    empty = [str(root / c) for c, n in zip(classes, counts) if n == 0]
    if empty:
        raise UserError(f"class folder{'s' if len(empty) > 1 else ''} {', '.join(empty)} "
                        f"{'have' if len(empty) > 1 else 'has'} {missing}",
                        f"{add} or remove it; every sub-folder of data.path is a class")
    if len(classes) < 2:
        raise UserError(f"{path}: found only {len(classes)} class folder", "a classifier needs at least two class sub-folders")
