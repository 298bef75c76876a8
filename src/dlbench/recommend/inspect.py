"""Inspecting a dataset for `dlbench recommend`: its kind, task, size, sample shape, and the facts a person
should see. Reads only what it needs (CSV columns and types, a sample of image headers, text lengths,
NPZ shapes)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlbench.data.preprocess import open_image
from dlbench.errors import UserError
from dlbench.recommend.audio import audio_profile, is_audio_folder

LABEL_NAMES = ("target", "label", "labels", "class", "y", "category")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class Profile:
    """What inspection found: the kind of data and the facts the recommendation rests on."""
    path: Path
    kind: str
    """image, signal, tabular, text, translation, audio"""
    task: str
    """classification, regression, seq2seq, or none (no labels)"""
    n: int
    data: dict
    """The data section of the config (kind, path, and what the inspection decided)."""
    shape: tuple = ()
    """One input sample's shape as the model sees it (for a dry build)."""
    facts: list[str] = field(default_factory=list)
    classes: int | None = None
    text_len: float = 0.0


# --- inspection ---------------------------------------------------------------------------------

def inspect(path: str | Path, target: str | None = None, goal: str = "predict") -> Profile:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p} does not exist", "give a CSV, TSV or NPZ file, or a folder of images")
    if goal == "generate":  # text to continue: a language model (recommend/corpus.py)
        from dlbench.recommend.corpus import corpus_profile

        found = corpus_profile(p, target)
        if found is not None:
            return found
    if p.is_dir():
        return audio_profile(p, goal) if is_audio_folder(p) else _images(p, goal)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _csv(p, target, goal)
    if suffix in (".tsv", ".txt"):
        return _tsv(p)
    if suffix == ".npz":
        return _npz(p, goal)
    raise UserError(f"{p}: cannot tell what kind of data a '{suffix or 'extension-less'}' file holds",
                    "give a .csv (tables, texts, signals), a .tsv of source<TAB>target pairs, an .npz "
                    "with x and y arrays, or a folder with one sub-folder of images per class")


def _images(p: Path, goal: str) -> Profile:
    from PIL import UnidentifiedImageError

    classes = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = {c.name: [f for f in sorted(c.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
             for c in classes}
    files = {c: fs for c, fs in files.items() if fs}
    n = sum(map(len, files.values()))
    if n == 0:
        loose = [f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES]
        raise UserError(f"{p}: no images in class sub-folders" + (f" ({len(loose)} images lie directly in it)" if loose else ""),
                        "put images in one sub-folder per class: PATH/<class>/*.png")
    if len(files) < 2 and goal != "generate":
        raise UserError(f"{p}: only one class folder ({next(iter(files))})", "a classifier needs two or more class folders")
    rng = np.random.default_rng(0)
    flat = [f for fs in files.values() for f in fs]
    sample = [flat[i] for i in rng.permutation(len(flat))[:200]]
    sizes, gray = [], 0
    for f in sample:  # opening reads only the header: size and mode, no pixels
        try:
            with open_image(f) as im:  # the pixel limit of training: a bomb is refused here too
                sizes.append(im.size)
                gray += im.mode in ("1", "L", "LA", "I", "I;16", "F")
        except (UnidentifiedImageError, OSError) as e:
            raise UserError(f"cannot read image {f}: {e}", "remove or replace the file") from None
    w, h = (int(np.median([s[i] for s in sizes])) for i in (0, 1))
    channels = 1 if gray == len(sample) else 3
    scale = min(1.0, 64 / max(h, w))  # on a CPU-sized budget 64 px per side keeps what small CNNs can use
    size = (max(8, int(h * scale) // 4 * 4), max(8, int(w * scale) // 4 * 4))
    counts = [len(fs) for fs in files.values()]
    facts = [f"{n} images in {len(files)} class folders ({min(counts)} to {max(counts)} per class)",
             f"median size {w}x{h} px, {'grayscale' if channels == 1 else 'colour'} (sampled {len(sample)})"]
    if size != (h, w):
        facts.append(f"resized to {size[1]}x{size[0]} for training")
    if max(counts) > 3 * min(counts):
        facts.append("classes are imbalanced (largest over 3x the smallest): watch per-class recall in the report")
    return Profile(p, "image", "classification", n, {"kind": "image-folder", "size": list(size), "channels": channels},
                   (channels, *size), facts, len(files))


def _signal_like(x: np.ndarray, names: list[str] | None = None) -> bool:
    """Columns in a meaningful order (a time series, a spectrum): neighbours correlate far more than
    random pairs do, or the names count up (t0, t1, ...)."""
    if x.ndim != 2 or x.shape[1] < 16:
        return False
    if names and len({re.sub(r"\d+$", "", n) for n in names}) == 1 and all(re.search(r"\d+$", n) for n in names):
        return True
    z = x[np.random.default_rng(0).permutation(len(x))[:2000]].astype(np.float64)
    z = (z - z.mean(0)) / np.where(z.std(0) > 1e-12, z.std(0), 1.0)
    adjacent = np.mean(np.abs((z[:, :-1] * z[:, 1:]).mean(0)))
    far = np.mean(np.abs((z * z[:, np.random.default_rng(1).permutation(z.shape[1])]).mean(0)))
    return adjacent > 0.3 and adjacent - far > 0.2


def _csv(p: Path, target: str | None, goal: str) -> Profile:
    import pandas as pd

    from dlbench.data.tabular import infer_task, read_csv

    frame = read_csv(p)
    cols = [str(c) for c in frame.columns]
    if goal != "generate":  # a time column and a numeric target: forecasting (recommend/timeseries.py)
        from dlbench.recommend.timeseries import profile as series_profile

        found = series_profile(p, frame, target)
        if found is not None:
            return found
    if target is None and goal != "generate":
        target = next((c for c in cols if c.lower() in LABEL_NAMES), None)
        if target is None:
            raise UserError(f"{p}: which column should the model predict?", f"pass --target, one of: {', '.join(cols[:20])}")
    if target is not None and target not in cols:
        import difflib

        close = difflib.get_close_matches(target, cols, n=1)
        raise UserError(f"{p}: no column '{target}'", f"did you mean '{close[0]}'?" if close else f"columns are: {', '.join(cols[:20])}")
    n = len(frame)
    features = [c for c in cols if c != target]
    text, ids, cats, nums = [], [], [], []
    for c in features:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            integral = col.dropna().pipe(lambda v: bool(len(v)) and np.allclose(v, np.round(v)))
            (ids if integral and col.nunique() == n and n > 20 and "id" in c.lower() else nums).append(c)
            continue
        s = col.dropna().astype(str)
        words = s.str.split().str.len().mean() if len(s) else 0
        if len(s) and (words >= 4 or s.str.len().mean() >= 30) and s.nunique() > 0.5 * len(s):
            text.append(c)
        elif s.nunique() == n and n > 20:
            ids.append(c)  # a unique string per row (a name, a key): no signal, and one-hot would explode
        else:
            cats.append(c)
    facts = [f"{n} rows, {len(features)} feature columns: {len(nums)} numeric, {len(cats)} categorical, "
             f"{len(text)} free text" + (f", {len(ids)} identifier(s) left out ({', '.join(ids)})" if ids else "")]
    task = "none"
    classes = None
    if target is not None:
        y = frame[target]
        if y.isna().any():
            raise UserError(f"{p}: target column '{target}' has {int(y.isna().sum())} missing values",
                            "remove those rows; targets are never imputed")
        task = infer_task(y, 20)
        classes = int(y.nunique()) if task == "classification" else None
        facts.append(f"target '{target}': " + (f"{classes} classes (smallest {int(y.value_counts().min())} rows)"
                                               if classes else f"numeric, range {y.min():.4g} to {y.max():.4g}"))
    missing = [c for c in features if c not in ids and frame[c].isna().any()]
    if text and target is not None and task == "classification":
        lengths = frame[text[0]].dropna().astype(str).str.split().str.len()
        facts.append(f"text column '{text[0]}': {lengths.mean():.0f} words on average, 95% under {lengths.quantile(.95):.0f}")
        data = {"kind": "text-csv", "text_column": text[0], "label_column": target}
        return Profile(p, "text", task, n, data, (), facts, classes, float(lengths.quantile(0.95)))
    if text:
        facts.append(f"free-text column(s) {', '.join(text)} are left out: text models here classify, they do not regress")
    used = [c for c in features if c not in ids and c not in text]
    if not used:
        raise UserError(f"{p}: no usable feature columns besides '{target}'", "add feature columns")
    data = {"kind": "csv", **({"target": target, "task": task} if target else {})}
    if used != features:
        data["columns"] = used
    if missing:
        data["impute"] = "median"
        facts.append(f"missing values in {', '.join(missing[:5])}: filled with the training median")
    width = len(nums) + sum(int(frame[c].nunique()) for c in cats)
    kind = "signal" if not cats and _signal_like(frame[nums].to_numpy(np.float64), nums) else "tabular"
    if kind == "signal":
        facts.append(f"the {len(nums)} numeric columns form an ordered sequence (neighbouring columns correlate)")
    return Profile(p, kind, task, n, data, (width,), facts, classes)


def _tsv(p: Path) -> Profile:
    try:
        lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        raise UserError(f"{p}: not UTF-8 text", "save the file as UTF-8") from None
    pairs = [ln.split("\t") for ln in lines]
    good = [x for x in pairs if len(x) == 2 and x[0].strip() and x[1].strip()]
    if not lines or len(good) < 0.9 * len(lines):
        raise UserError(f"{p}: not a parallel text file ({len(good)} of {len(lines)} lines are source<TAB>target)",
                        "give one `source<TAB>target` pair per line, or a CSV with text and label columns")
    src, tgt = (np.array([len(x[i].split()) for x in good]) for i in (0, 1))
    chars = np.array([max(len(a), len(b)) for a, b in good])
    facts = [f"{len(good)} source<TAB>target pairs", f"source {src.mean():.1f} words on average (max {src.max()}), "
             f"target {tgt.mean():.1f} (max {tgt.max()})"]
    return Profile(p, "translation", "seq2seq", len(good), {"kind": "parallel-tsv"}, (), facts, None,
                   float(np.quantile(np.maximum(src, tgt), 0.99)) if chars.size else 0.0)


def _npz(p: Path, goal: str) -> Profile:
    from dlbench.data.arrays import load_npz

    arrays = load_npz(p)
    if "x" not in arrays:
        raise UserError(f"{p}: needs an array named 'x' (found {', '.join(arrays) or 'none'})")
    x, y = arrays["x"], arrays.get("y")
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 1 or len(x) < 10:
        raise UserError(f"{p}: x must be numeric with at least 10 samples (dtype {x.dtype}, shape {x.shape})")
    if y is None and goal != "generate":
        raise UserError(f"{p}: no 'y' array of labels or targets", "add y, or pass --goal generate")
    task, classes = "none", None
    if y is not None:
        task = "classification" if np.issubdtype(y.dtype, np.integer) and y.ndim == 1 else "regression"
        classes = int(len(np.unique(y))) if task == "classification" else None
    shape = tuple(int(s) for s in x.shape[1:]) or (1,)
    facts = [f"x {list(x.shape)} ({x.dtype}), " + (f"y: {classes} classes" if classes else
                                                   "y: numeric targets" if y is not None else "no y")]
    kind = {3: "image", 2: "signal"}.get(len(shape), "tabular")
    if kind == "tabular" and _signal_like(x.reshape(len(x), -1)):
        kind = "signal"
        facts.append("the features form an ordered sequence (neighbours correlate); as [N, 1, T] a 1-D CNN could read it")
    if kind == "image" and shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4):
        facts.append(f"x looks channels-last {list(shape)}; models read [C, H, W]: transpose x to N, C, H, W")
    data = {"kind": "npz", **({"task": task} if y is not None else {})}
    return Profile(p, kind, task, len(x), data, shape, facts, classes)
