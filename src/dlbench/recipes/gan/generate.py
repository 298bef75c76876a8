"""The GAN's `dlbench generate RUN`: samples written as a PNG grid, an .npz or a CSV.

    dlbench generate runs/g1 --n 64 --label 7 --output sevens.png
    dlbench generate runs/tab --n 500 --output rows.csv
    dlbench generate runs/tone-gan --n 8 --output samples/       # a folder: one file per sample (audio: WAV)

.npz and .csv hold samples in the data's own units (the run's preprocessing undone), so they can be fed
back to `dlbench predict` of a model trained on the same data; the .npz has `x` [n, *shape] and, for a
conditional generator, `y` (class indices) and `labels` (class names).
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.recipes.gan.plots import save_samples_png

FORMATS = (".png", ".npz", ".csv")
MAX_PNG = 1024
"""More samples than this make an unreadable grid; write .npz or .csv instead."""


def _check_output(output: str, n: int) -> Path:
    p = Path(output)
    if p.suffix.lower() not in FORMATS:
        raise UserError(f"--output {output}: unsupported extension '{p.suffix}'", "use .png, .npz or .csv")
    if p.exists():
        raise UserError(f"--output {output} already exists", "choose a new file name (nothing is overwritten)")
    if not p.parent.is_dir():
        raise UserError(f"--output {output}: folder {p.parent} does not exist")
    if p.suffix.lower() == ".png" and n > MAX_PNG:
        raise UserError(f"--n {n} is too many samples for one PNG grid (at most {MAX_PNG})", "write .npz or .csv")
    return p


def table(loaded, x: np.ndarray, names: list[str] | None) -> tuple[list[str], list[list]]:
    """CSV header and rows in the data's units (tables from CSV files get their original columns back)."""
    data = loaded.codec.to_data_units(x).reshape(len(x), -1)
    feats = loaded.spec.extras.get("feature_names") if len(loaded.spec.input_shape) == 1 else None
    header, cols = loaded.codec.columns(data, feats)
    if names is not None:
        header.append("label")
        cols.append(names)
    return header, [list(r) for r in zip(*cols)]


def generate(loaded, n: int = 64, label: str | None = None, seed: int = 0, output: str = "samples.png") -> dict:
    """Generate n samples (of one class when `label` is given) with a loaded GAN run and write them to
    `output` (.png/.npz/.csv)."""
    if n < 1:
        raise UserError(f"--n must be at least 1 (got {n})")
    if output.endswith(("/", os.sep)) or Path(output).is_dir() or not Path(output).suffix:
        return _write_files(loaded, n, label, seed, Path(output))
    path = _check_output(output, n)
    gen = loaded.task
    index = gen.label_index(str(label)) if label is not None else None
    x, y = gen.sample(n, index, seed)
    x = x.numpy()
    classes = gen.class_names
    names = [classes[i] for i in y.tolist()] if y is not None else None
    suffix = path.suffix.lower()
    if suffix == ".png":
        title = f"{n} samples" + (f" of '{classes[index]}'" if index is not None else "") + f", seed {seed}"
        save_samples_png(path, x, None if y is None else y.numpy(), classes, column_names=loaded.spec.extras.get(
            "feature_names"), title=title)
    elif suffix == ".npz":
        arrays = {"x": loaded.codec.to_data_units(x)}
        if y is not None:
            arrays.update(y=y.numpy().astype(np.int64), labels=np.asarray(names, dtype=str))
        with open(path, "xb") as f:
            np.savez(f, **arrays)
    else:
        header, rows = table(loaded, x, names)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(rows)
        with open(path, "x") as f:
            f.write(buf.getvalue())
    return {"path": str(path), "count": n, "labels": names}


def _write_files(loaded, n: int, label: str | None, seed: int, folder: Path) -> dict:
    """One file per sample in `folder` (created; files already there are never replaced), in the format of the
    run's data kind (audio: WAV at the trained rate), named NNNN[-label].<suffix>."""
    shape = tuple(loaded.spec.input_shape)
    if loaded.codec.encode_files(np.zeros((1, *shape), np.float32)) is None:
        raise UserError(f"--output {folder}: a folder takes one file per sample, and this run's samples "
                        f"({loaded.codec.kind} {list(shape)}) have no file format of their own",
                        "write .png, .npz or .csv; an audio GAN writes WAV files when trained on data.features: "
                        "waveform")
    if not folder.parent.is_dir():
        raise UserError(f"--output {folder}: folder {folder.parent} does not exist")
    gen = loaded.task
    index = gen.label_index(str(label)) if label is not None else None
    x, y = gen.sample(n, index, seed)
    names = [gen.class_names[i] for i in y.tolist()] if y is not None else None
    suffix, blobs = loaded.codec.encode_files(x.numpy())
    safe = [re.sub(r"[^A-Za-z0-9._-]", "_", c) for c in names] if names else None
    paths = [folder / (f"{i:04d}" + (f"-{safe[i]}" if safe else "") + suffix) for i in range(n)]
    taken = [p for p in paths if p.exists()]
    if taken:
        raise UserError(f"--output {folder}: {taken[0]} already exists" + (f" (and {len(taken) - 1} more)"
                                                                           if len(taken) > 1 else ""),
                        "choose a new folder (nothing is overwritten)")
    folder.mkdir(exist_ok=True)
    for p, blob in zip(paths, blobs):
        with open(p, "xb") as f:
            f.write(blob)
    return {"path": str(folder), "count": n, "labels": names, "files": [str(p) for p in paths]}
