"""`dlbench recommend DATA`: look at a dataset, recommend a model family, write a starter config.

    dlbench recommend data/customers.csv --target churn     # tabular -> MLP
    dlbench recommend data/images/                          # image folder -> CNN
    dlbench recommend pairs.tsv                             # parallel text -> Transformer
    dlbench recommend data/images/ --goal generate          # more like this -> GAN

Inspection reads only what it needs (CSV columns and types, a sample of image headers, text lengths,
NPZ shapes). The family follows from the kind of data; sizes (width, depth, batch, steps, dropout,
weight decay) scale with the number of training samples. The written config is validated against
the schema and its model is built on the inspected input shape before the file is written, so
`dlbench train` accepts it as it is. Families missing from this dlbench's registry are recommended
in words, and the config uses the best family that is available, saying so.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlbench.errors import UserError

LABEL_NAMES = ("target", "label", "labels", "class", "y", "category")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
FAMILY_NAMES = {"mlp": "MLP", "cnn": "CNN", "cnn-1d": "1-D CNN", "rnn": "RNN (GRU)", "gan": "GAN",
                "transformer": "Transformer (encoder)", "transformer-seq2seq": "Transformer (encoder-decoder)",
                "rnn-text": "RNN (LSTM/GRU) over token embeddings", "rnn-seq2seq": "RNN encoder-decoder"}
REGISTRY_NAME = {"cnn-1d": "cnn", "transformer-seq2seq": "transformer", "rnn-seq2seq": "rnn"}
"""Suggestions that are a head or a configuration of a registered family."""


@dataclass
class Profile:
    """What inspection found: the kind of data and the facts the recommendation rests on."""
    path: Path
    kind: str
    """image, signal, tabular, text, translation"""
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


@dataclass
class Recommendation:
    profile: Profile
    family: str
    """The family recommended for the data (possibly not in this dlbench)."""
    reasons: list[str]
    config: dict | None
    written_family: str | None
    note: str = ""
    output: Path | None = None


# --- inspection ---------------------------------------------------------------------------------

def inspect(path: str | Path, target: str | None = None, goal: str = "predict") -> Profile:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p} does not exist", "give a CSV, TSV or NPZ file, or a folder of images")
    if p.is_dir():
        return _images(p, goal)
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
    from PIL import Image, UnidentifiedImageError

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
    for f in sample:  # Image.open reads only the header: size and mode, no pixels
        try:
            with Image.open(f) as im:
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


# --- recommendation -----------------------------------------------------------------------------

def tier(n_train: int) -> dict:
    """Sizes that suit the amount of data: small data gets small, regularized models trained for more epochs."""
    if n_train < 1000:
        return dict(width=64, batch=32, dropout=0.2, wd=0.05, epochs=60, name="small (< 1,000 training samples)")
    if n_train < 10_000:
        return dict(width=128, batch=64, dropout=0.1, wd=0.01, epochs=30, name="medium (1,000-10,000)")
    if n_train < 100_000:
        return dict(width=256, batch=128, dropout=0.1, wd=0.01, epochs=10, name="large (10,000-100,000)")
    return dict(width=512, batch=256, dropout=0.0, wd=0.01, epochs=3, name="very large (> 100,000)")


def choose(pr: Profile, goal: str) -> tuple[str, list[str], list[str]]:
    """(family, reasons, fallbacks in order) for a profile."""
    small = pr.n < 5000
    if goal == "generate":
        return "gan", [f"you asked to generate more {pr.kind} data like this: a GAN learns to sample from the data's "
                       "distribution" + (f", conditioned on the {pr.classes} classes" if pr.classes else "")], []
    if pr.kind == "image":
        return "cnn", ["images: convolutions share weights across positions and pool over them, so a CNN needs far "
                       "fewer parameters than an MLP and is robust to small shifts"], ["mlp"]
    if pr.kind == "signal":
        why = "ordered sequence: local patterns (peaks, edges) matter wherever they occur"
        if pr.data["kind"] == "npz" and len(pr.shape) == 2:
            return "cnn-1d", [f"{why}; a 1-D CNN finds them with few parameters and is fast on long sequences"], ["rnn", "mlp"]
        return "rnn", [f"{why}; a GRU reads the columns in order (a 1-D CNN would need the data as an NPZ "
                       "x of shape [N, 1, T])"], ["mlp"]
    if pr.kind == "text":
        if small:
            return "rnn-text", [f"text classification with only {pr.n} examples: a small recurrent model over "
                                "token embeddings is less data-hungry than a Transformer"], ["transformer"]
        return "transformer", ["text classification: self-attention relates words across the whole text; with "
                               f"{pr.n} examples a small Transformer is well supported"], []
    if pr.kind == "translation":
        if small:
            return "rnn-seq2seq", [f"translation with only {pr.n} pairs: an RNN encoder-decoder with attention "
                                   "trains more reliably on little data"], ["transformer-seq2seq"]
        return "transformer-seq2seq", ["translation: an encoder-decoder Transformer is the standard for sequence "
                                       "to sequence tasks and trains in parallel over positions"], []
    return "mlp", ["tabular features (no spatial or temporal order between columns): an MLP on standardized "
                   "numbers and one-hot categories is the strong, simple baseline"], []


def build_config(pr: Profile, family: str, goal: str, data_path: str) -> dict:
    from dlbench.recipes.registry import RECIPES

    n_train = max(1, int(pr.n * 0.7))  # the default split keeps 70% for training
    t = tier(n_train)
    bs = min(t["batch"], max(8, 2 ** int(math.log2(max(8, n_train // 8)))))
    steps = int(min(20_000, max(300, math.ceil(t["epochs"] * n_train / bs))))
    every = max(10, min(1000, steps // 20))
    train = {"steps": steps, "batch_size": bs, "eval_every": every, "log_every": min(50, every),
             "checkpoint_every": max(every, steps // 4)}
    optim = {"name": "adamw", "lr": 3e-3, "weight_decay": t["wd"], "schedule": "cosine", "warmup_steps": steps // 20}
    w, drop = t["width"], t["dropout"]
    data = {"kind": pr.data["kind"], "path": data_path, **pr.data}
    if family == "mlp":
        model = {"name": "mlp", "hidden": [w] * (3 if n_train >= 100_000 else 2), "dropout": drop}
    elif family in ("cnn", "cnn-1d"):
        spatial = min(pr.shape[1:]) if len(pr.shape) > 1 else 8
        depth = int(min(4, max(2, math.log2(max(spatial, 4)) - 1)))
        base = 16 if n_train < 1000 else 32
        model = {"name": "cnn", "stages": [{"channels": min(256, base * 2 ** i), "kernel": 5 if family == "cnn-1d" else 3,
                                            "pool": "max" if i < depth - 1 else "none"} for i in range(depth)],
                 "dropout": drop, "head": "avg"}
    elif family == "rnn":
        steps_len = pr.shape[-1] if pr.shape else 1
        model = {"name": "rnn", "cell": "gru", "hidden_size": min(128, w), "bidirectional": True,
                 "pooling": "flatten" if steps_len <= 64 else "mean"}
        optim["grad_clip"] = 1.0  # recurrent gradients can spike; clipping keeps a high lr safe
    elif family == "transformer":
        d = 64 if n_train < 10_000 else 128
        model = {"name": "transformer", "d_model": d, "heads": 4, "layers": 2 if n_train < 10_000 else 4, "dropout": 0.1}
        data.update(max_len=int(min(512, max(16, pr.text_len * 1.5 + 2))), tokenizer={"type": "word"})
        optim.update(lr=5e-4, warmup_steps=max(1, steps // 10))
    elif family == "transformer-seq2seq":
        d = 128 if n_train < 50_000 else 256
        layers = 2 if n_train < 10_000 else 3
        model = {"name": "transformer", "d_model": d, "heads": 4, "encoder_layers": layers,
                 "decoder_layers": layers, "dropout": 0.1}
        data.update(max_len=int(min(256, max(16, pr.text_len * 2 + 4))), tokenizer={"type": "word"})
        optim.update(lr=5e-4, warmup_steps=max(1, steps // 10))
    elif family == "rnn-seq2seq":
        h = 128 if n_train < 10_000 else 256
        model = {"name": "rnn", "cell": "gru", "embedding_dim": h // 2, "hidden_size": h, "layers": 1,
                 "attention": "luong", "dropout": 0.2 if n_train < 2000 else 0.1}
        data.update(max_len=int(min(256, max(16, pr.text_len * 2 + 4))), tokenizer={"type": "word"})
        optim.update(grad_clip=1.0)
    elif family == "gan":
        model = {"name": "gan", "width": min(128, w), "conditional": bool(pr.classes and pr.classes <= 100),
                 "d_dropout": 0.3 if n_train < 1000 else 0.0}
        optim = None  # a GAN's two optimizers are set in the model section
    else:
        raise ValueError(family)
    cfg = {"data": data, "model": model, **({"optim": optim} if optim else {}), "train": train}
    fields = RECIPES[model["name"]].config.model_fields
    cfg["model"] = {k: v for k, v in model.items() if k in fields}  # tolerate a family that renamed an option
    return cfg


def _check(cfg: dict, pr: Profile) -> str | None:
    """Why `cfg` would not train, or None: schema validation plus building the model on the inspected shape."""
    from dlbench.schema import parse_config
    from dlbench.data.bundle import DataSpec
    from dlbench.recipes.registry import build_model

    try:
        c = parse_config(cfg)
    except UserError as e:
        return e.line()
    if not pr.shape or pr.task not in ("classification", "regression"):
        return None  # text and GAN shapes are only known after tokenizing / building the data
    try:
        build_model(c.model, DataSpec(pr.task, pr.shape, pr.classes, None))
    except (UserError, RuntimeError, ValueError) as e:
        return str(e).splitlines()[0]
    return None


def recommend(path: str | Path, target: str | None = None, goal: str = "predict",
              output: str | Path | None = None, write: bool = True) -> Recommendation:
    from dlbench.data.registry import DATASETS
    from dlbench.recipes.registry import RECIPES

    if goal not in ("predict", "generate"):
        raise UserError(f"--goal {goal}: unknown goal", "use predict (default) or generate")
    pr = inspect(path, target, goal)
    family, reasons, fallbacks = choose(pr, goal)
    if goal == "generate" and pr.task in ("classification", "regression"):
        fallbacks = [choose(pr, "predict")[0]] + choose(pr, "predict")[2]
    out = Path(output) if output else None
    data_path = str(path) if not Path(path).is_absolute() and (out is None or out.resolve().parent == Path.cwd()) \
        else str(Path(path).resolve())
    cfg, written, problems = None, None, []
    for fam in [family, *fallbacks]:
        reg = REGISTRY_NAME.get(fam, fam)
        if reg not in RECIPES:
            problems.append(f"{FAMILY_NAMES.get(fam, fam)} is not in this dlbench's model registry")
            continue
        candidate = build_config(pr, fam, goal, data_path)
        if candidate["data"]["kind"] not in DATASETS:
            problems.append(f"this dlbench cannot read {pr.kind} data for {FAMILY_NAMES[fam]} (no data.kind "
                            f"'{candidate['data']['kind']}')")
            continue
        why_not = _check(candidate, pr)
        if why_not:
            problems.append(f"{FAMILY_NAMES[fam]}: {why_not}")
            continue
        cfg, written = candidate, fam
        break
    note = ""
    if written != family:
        note = "; ".join(problems) + (f". The config uses {FAMILY_NAMES[written]} instead." if written else
                                      ". No config was written: no available family can learn this task.")
    reasons = reasons + [f"sizes for {tier(int(pr.n * .7))['name']}" + ("; dropout and weight decay against "
                                                                         "overfitting" if pr.n < 1500 else "")]
    rec = Recommendation(pr, family, reasons, cfg, written, note)
    if cfg is not None and write:
        stem = Path(path).stem if Path(path).is_file() else Path(path).resolve().name
        out = out or Path(f"{stem}-{REGISTRY_NAME.get(written, written)}.yaml")
        cfg["name"] = out.stem
        _write(rec, out, path, target, goal)
    return rec


def _write(rec: Recommendation, out: Path, path, target, goal) -> None:
    import yaml

    if out.exists():
        raise UserError(f"{out} already exists", "choose another --output; nothing is overwritten")
    if not out.parent.is_dir():
        raise UserError(f"--output {out}: folder {out.parent} does not exist")
    cmd = " ".join(["dlbench recommend", str(path)] + ([f"--target {target}"] if target else []) +
                   ([f"--goal {goal}"] if goal != "predict" else []))
    head = [f"# Starter config written by `{cmd}`.",
            f"# Recommended: {FAMILY_NAMES.get(rec.family, rec.family)}. Why:",
            *[f"#   - {r}" for r in rec.profile.facts + rec.reasons]]
    if rec.note:
        head.append(f"# Note: {rec.note}")
    head.append(f"# $ dlbench train {out}")
    with open(out, "x") as f:  # "x": fails rather than replace a file created meanwhile
        f.write("\n".join(head) + "\n" + yaml.safe_dump(rec.config, sort_keys=False))
    rec.output = out
