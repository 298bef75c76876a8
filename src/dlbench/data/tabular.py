"""User CSV files: a target column; classification or regression declared or inferred."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from dlbench.data.bundle import DataSpec
from dlbench.data.common import SplitOptions, bundle_from_arrays
from dlbench.data import replay
from dlbench.data.preprocess import TabularPreprocessor, preprocessor_from_json
from dlbench.data.split import split_indices
from dlbench.errors import UserError


# A text column with more distinct numbers than this is a numeric column with a few stray words.
MAX_CATEGORIES = 50


class CsvData(SplitOptions):
    kind: Literal["csv"] = "csv"
    """A CSV file with one row per sample and a target column."""
    path: str
    """The CSV file: comma-separated, a header row naming the columns, one row per sample; relative paths are from the
    working directory."""
    target: str
    """Name of the target column."""
    task: Literal["auto", "classification", "regression"] = "auto"
    """auto: classification when the target is text/bool or has at most `max_classes` distinct integers."""
    columns: list[str] | None = None
    """Feature columns to use (default: every column but the target)."""
    impute: Literal["none", "mean", "median", "most_frequent", "drop"] = "none"
    """Missing feature values: none = refuse the file and say where they are; drop = drop those rows."""
    max_classes: int = Field(20, ge=2)
    """task auto: an integer target with at most this many distinct values is a class label; more values make it a
    regression target."""


def read_csv(path: str | Path):
    import warnings

    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UserError(f"data file not found: {path}", "check data.path (relative paths are from the working directory)")
    try:
        # index_col=False: otherwise pandas turns a first row with one field too many into an index
        # column, shifting every value one column left; instead it warns, and we find the row
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(p, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        _refuse_ragged(p)
        raise UserError(f"{path}: not a readable CSV file: {str(e).splitlines()[0]}") from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        _refuse_ragged(p)
    if len(frame) == 0:
        raise UserError(f"{path}: the CSV file has a header but no rows")
    return frame


def _refuse_ragged(path: Path) -> None:
    """Raise naming the first row with more fields than the header, if there is one."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        for row in reader:
            if len(row) > len(header):
                raise UserError(f"{path}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}",
                                "remove the extra fields, or quote values that contain commas")


def check_features(frame, columns: list[str], path) -> None:
    """Refuse numbers that cannot train: inf, and numeric columns with a few stray words that would
    otherwise become one-hot categories (one per distinct number)."""
    import pandas as pd

    for c in columns:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col):
            continue
        if pd.api.types.is_numeric_dtype(col):
            inf = np.isinf(col.to_numpy(dtype=np.float64))
            if inf.any():
                rows = np.flatnonzero(inf)
                raise UserError(f"{path}: column {c} holds {col.iloc[rows[0]]} in row {int(rows[0])}"
                                f"{f' and {len(rows) - 1} more row(s)' if len(rows) > 1 else ''}",
                                "the model needs finite numbers: fix those cells, or empty them and set data.impute")
            continue
        present = col.dropna()
        numbers = pd.to_numeric(present, errors="coerce")
        words = numbers.isna()
        # mostly numbers, with too many distinct values to be categories, and only a few words
        if words.any() and numbers.nunique() > MAX_CATEGORIES and words.sum() <= 0.05 * len(present):
            rows = present.index[words.to_numpy()]
            shown = ", ".join(f"row {int(r)} holds {col[r]!r}" for r in rows[:5])
            raise UserError(f"{path}: column {c} is numbers except {int(words.sum())} cell(s): {shown}"
                            f"{', ...' if len(rows) > 5 else ''}",
                            "fix those cells, or empty them and set data.impute; read as text, the column "
                            f"would become {col.nunique()} one-hot categories")


def infer_task(col, max_classes: int) -> str:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return "classification"
    vals = col.dropna()
    integral = np.allclose(vals, np.round(vals))
    return "classification" if integral and vals.nunique() <= max_classes else "regression"


def build_csv(cfg: CsvData):
    import pandas as pd

    frame = read_csv(cfg.path)
    if cfg.target not in frame.columns:
        import difflib

        close = difflib.get_close_matches(cfg.target, [str(c) for c in frame.columns], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"columns are: {', '.join(map(str, frame.columns))}"
        raise UserError(f"{cfg.path}: no target column '{cfg.target}'", hint)
    columns = cfg.columns or [c for c in frame.columns if c != cfg.target]
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise UserError(f"{cfg.path}: data.columns names missing column(s) {', '.join(absent)}")
    target = frame[cfg.target]
    if target.isna().any():
        rows = np.flatnonzero(target.isna().values)[:5].tolist()
        raise UserError(f"{cfg.path}: target column '{cfg.target}' has missing values (rows {rows})",
                        "remove those rows; targets are never imputed")
    check_features(frame, columns, cfg.path)  # before any row is dropped, so row numbers are the file's
    rows = np.arange(1, len(frame) + 1)  # 1-based data rows of the file, the header not counted
    if cfg.impute == "drop":
        keep = ~frame[columns].isna().any(axis=1)
        frame, target = frame[keep].reset_index(drop=True), target[keep].reset_index(drop=True)
        rows = rows[keep.to_numpy()]
    task = replay.task(cfg.task if cfg.task != "auto" else infer_task(target, cfg.max_classes))
    if task == "regression":
        y_num = pd.to_numeric(target, errors="coerce")
        if y_num.isna().any():
            row = int(np.flatnonzero(y_num.isna().values)[0])
            raise UserError(f"{cfg.path}: regression target '{cfg.target}' is not numeric (row {row} holds {target[row]!r})",
                            "use data.task: classification for a categorical target")
        inf = np.isinf(y_num.to_numpy(np.float64))
        if inf.any():
            row = int(np.flatnonzero(inf)[0])
            raise UserError(f"{cfg.path}: regression target '{cfg.target}' holds {target[row]} in row {row}",
                            "targets must be finite numbers: fix or remove that row")
        y = y_num.to_numpy(np.float32)
        classes = None
    else:
        labels = target.astype(str)
        classes = replay.classes(sorted(labels.unique().tolist(),
                                        key=lambda s: (len(s), s) if s.lstrip("-").isdigit() else (1e9, s)), cfg.path)
        if len(classes) < 2:  # would train to "accuracy 1.000" by always answering the one class
            raise UserError(f"{cfg.path}: target column '{cfg.target}' has a single value ({classes[0]!r}): "
                            "nothing to learn", "a classifier needs rows of at least two classes")
        index = {c: i for i, c in enumerate(classes)}
        y = labels.map(index).to_numpy(np.int64)
    # fit preprocessing on the training rows only
    def fit():
        tr, _, _ = split_indices(len(frame), y if task == "classification" else None,
                                 (cfg.val_fraction, cfg.test_fraction), cfg.seed, task == "classification")
        return TabularPreprocessor.fit(frame.iloc[tr], columns, cfg.impute if cfg.impute != "drop" else "none")

    pre = replay.preprocessor(fit, preprocessor_from_json)  # a finished model's own, when building data for it
    x = pre.transform(frame)
    spec = DataSpec(task, (x.shape[1],), len(classes) if classes else None, classes,
                    extras=replay.extras({"feature_names": pre.feature_names, "target": cfg.target}))
    return bundle_from_arrays(cfg.path, x, y, spec, pre.to_json(), cfg, ids=[f"row {r}" for r in rows])
