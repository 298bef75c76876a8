"""PNG pictures of generated samples (matplotlib, Agg): image grids, signal grids and, for tables,
per-column mean and spread of generated vs real rows.

Each picture is a single axes (a mosaic, offset traces, one bar chart): drawing dozens of subplots
costs seconds per evaluation on a busy CPU, one axes costs a fraction of that.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def grid_shape(n: int, labels: np.ndarray | None) -> tuple[int, int]:
    """Conditional samples laid out one class per row when there are few classes; else a near-square grid."""
    if labels is not None:
        k = len(np.unique(labels))
        if 1 < k <= 12 and n % k == 0:
            return k, n // k
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def order_by_label(samples: np.ndarray, labels: np.ndarray | None):
    if labels is None:
        return samples, None
    idx = np.argsort(labels, kind="stable")
    return samples[idx], labels[idx]


def mosaic(images: np.ndarray, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """[N, C, H, W] -> one [rows*(H+pad), cols*(W+pad), C] picture scaled to [0, 1] (empty cells stay white)."""
    n, c, h, w = images.shape
    lo, hi = float(np.nanmin(images)), float(np.nanmax(images))
    scaled = np.nan_to_num((images - lo) / max(hi - lo, 1e-12))
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = \
            scaled[i].transpose(1, 2, 0)
    return out


def save_samples_png(path: str | Path, samples: np.ndarray, labels: np.ndarray | None = None,
                     class_names: list[str] | None = None, real: np.ndarray | None = None,
                     column_names: list[str] | None = None, title: str | None = None) -> Path:
    """samples: [N, C, H, W] images, [N, C, T] signals or [N, D] table rows (compared with `real` rows,
    columns named by `column_names`). Written to a temporary file, then renamed into place."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    samples = np.asarray(samples, dtype=np.float32)
    samples, labels = order_by_label(samples, labels)
    if samples.ndim == 2:
        fig = _table(plt, samples, real, column_names)
    else:
        rows, cols = grid_shape(len(samples), labels)
        fig = (_images if samples.ndim == 4 else _signals)(plt, samples, rows, cols)
        if labels is not None and len(np.unique(labels)) > 1:
            ax = fig.axes[0]
            step = ax.get_ylim()[0] / rows  # y grows downwards for images, offsets grow upwards for signals
            ax.set_yticks([(r + 0.5) * step for r in range(rows)])
            ax.set_yticklabels([class_names[labels[r * cols]] if class_names else str(labels[r * cols])
                                for r in range(rows)], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def _images(plt, samples, rows, cols):
    pic = mosaic(samples, rows, cols)
    fig = plt.figure(figsize=(max(3.0, cols * 0.6), max(2.5, rows * 0.6) + 0.4))
    ax = fig.add_axes((0.08, 0.02, 0.9, 0.88))
    ax.imshow(pic[..., 0] if pic.shape[2] == 1 else pic, cmap="gray", vmin=0, vmax=1, interpolation="nearest",
              extent=(0, pic.shape[1], pic.shape[0], 0))
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _signals(plt, samples, rows, cols):
    """[N, C, T] signals as traces in one axes, cell (r, q) at x offset q * 1.1 T and row r counted from the top
    (the y axis points down like an image's, so each trace is drawn as hi - value)."""
    n, c, t = samples.shape
    lo, hi = float(np.nanmin(samples)), float(np.nanmax(samples))
    span = max(hi - lo, 1e-12)
    height = span * 1.1
    fig = plt.figure(figsize=(max(3.0, cols * 1.1), max(2.5, rows * 0.7) + 0.4))
    ax = fig.add_axes((0.08, 0.02, 0.9, 0.88))
    xs = np.arange(t)
    for i in range(n):
        r, q = divmod(i, cols)
        for ch in range(c):
            ax.plot(xs + q * t * 1.1, r * height + 0.05 * span + (hi - samples[i, ch]), lw=0.7, color=f"C{ch}")
    ax.set_ylim(rows * height, 0)
    ax.set_xlim(-1, cols * t * 1.1)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _table(plt, samples, real, names, max_columns: int = 40):
    """Per-column mean +- std of generated (and real) rows, in the model's standardized units."""
    d = min(samples.shape[1], max_columns)
    fig = plt.figure(figsize=(max(4.0, d * 0.35), 3.2))
    ax = fig.add_axes((0.12, 0.3, 0.86, 0.6))
    x = np.arange(d)
    if real is not None:
        ax.errorbar(x - 0.15, real[:, :d].mean(0), real[:, :d].std(0), fmt="o", ms=3, lw=1, label="real")
    ax.errorbar(x + 0.15, samples[:, :d].mean(0), samples[:, :d].std(0), fmt="s", ms=3, lw=1, label="generated")
    ax.set_xticks(x)
    ax.set_xticklabels([str(names[j]) if names and j < len(names) else str(j) for j in range(d)],
                       rotation=60, ha="right", fontsize=6)
    ax.set_ylabel("mean ± std (model units)", fontsize=7)
    ax.tick_params(axis="y", labelsize=6)
    ax.legend(fontsize=6)
    return fig
