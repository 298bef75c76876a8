"""`dlbench generate RUN`: samples from a trained GAN, written as a PNG grid, an .npz or a CSV.

    dlbench generate runs/g1 --n 64 --label 7 --output sevens.png
    dlbench generate runs/tab --n 500 --output rows.csv

.npz and .csv hold samples in the data's own units (the run's preprocessing undone), so they can be fed
back to `dlbench predict` of a model trained on the same data; the .npz has `x` [n, *shape] and, for a
conditional generator, `y` (class indices) and `labels` (class names).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Optional

import numpy as np
import typer

import dlbench.config  # noqa: F401  (config before data/tasks: importing dlbench.tasks first is circular)
from dlbench.errors import UserError

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


def to_data_units(preprocessing: dict, x: np.ndarray) -> np.ndarray:
    """Model inputs [n, *shape] -> the data's units (standardization undone), same shape."""
    from dlbench.tasks.generation import affine_to_data_units

    flat = x.reshape(len(x), -1).astype(np.float64)
    scale, shift = affine_to_data_units(preprocessing, flat.shape[1])
    return (flat * scale + shift).reshape(x.shape).astype(np.float32)


def table(loaded, x: np.ndarray, names: list[str] | None) -> tuple[list[str], list[list]]:
    """CSV header and rows. Tables from CSV files get their original columns back (one-hot -> category)."""
    pre = loaded.preprocessing
    data = to_data_units(pre, x).reshape(len(x), -1)
    if pre.get("kind") == "tabular":
        header = [c["name"] for c in pre["numeric"]] + [c["name"] for c in pre["categorical"]]
        k = len(pre["numeric"])
        cols = [data[:, i].tolist() for i in range(k)]
        for c in pre["categorical"]:
            block = data[:, k:k + len(c["categories"])]
            cols.append([c["categories"][j] for j in block.argmax(1)] if len(c["categories"]) else [""] * len(x))
            k += len(c["categories"])
    else:
        feats = loaded.spec.extras.get("feature_names") if len(loaded.spec.input_shape) == 1 else None
        header = list(feats) if feats and len(feats) == data.shape[1] else [f"x{i}" for i in range(data.shape[1])]
        cols = [data[:, i].tolist() for i in range(data.shape[1])]
    if names is not None:
        header.append("label")
        cols.append(names)
    return header, [list(r) for r in zip(*cols)]


def generate(run_dir: str | Path, n: int = 64, label: str | None = None, seed: int = 0,
             output: str = "samples.png", device: str | None = None) -> dict:
    """Generate n samples (of one class when `label` is given) and write them to `output` (.png/.npz/.csv)."""
    from dlbench.tasks.generation import load_generator
    from dlbench.tasks.generation_plots import save_samples_png

    if n < 1:
        raise UserError(f"--n must be at least 1 (got {n})")
    path = _check_output(output, n)
    loaded = load_generator(run_dir, device)
    index = loaded.label_index(str(label)) if label is not None else None
    x, y = loaded.sample(n, index, seed)
    x = x.numpy()
    classes = loaded.spec.class_names or [str(i) for i in range(loaded.spec.num_classes or 0)]
    names = [classes[i] for i in y.tolist()] if y is not None else None
    suffix = path.suffix.lower()
    if suffix == ".png":
        title = f"{n} samples" + (f" of '{classes[index]}'" if index is not None else "") + f", seed {seed}"
        save_samples_png(path, x, None if y is None else y.numpy(), classes, column_names=loaded.spec.extras.get(
            "feature_names"), title=title)
    elif suffix == ".npz":
        arrays = {"x": to_data_units(loaded.preprocessing, x)}
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


def generate_command(
        run_dir: str = typer.Argument(..., help="A finished GAN run directory"),
        n: int = typer.Option(64, "--n", help="How many samples"),
        label: Optional[str] = typer.Option(None, "--label", help="Class name or index (conditional GANs); "
                                            "default: every class in turn"),
        seed: int = typer.Option(0, "--seed", help="Seed of the noise: the same seed gives the same samples"),
        output: str = typer.Option(..., "--output", help=".png (a grid), .npz (arrays) or .csv (one row per sample)"),
        device: Optional[str] = typer.Option(None, "--device")):
    """Generate samples with a trained GAN: a PNG grid, an .npz of arrays, or a CSV of rows."""
    from rich.console import Console

    res = generate(run_dir, n, label, seed, output, device)
    Console(stderr=True).print(f"wrote {res['count']} samples to {res['path']}", highlight=False)
