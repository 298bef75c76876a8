"""matplotlib (Agg) figures as embedded PNGs, and the plots every report kind shares."""
from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: reports are made on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbench.report.document import Figure  # noqa: E402

DPI = 110
# Colours that stay apart for the common colour-vision deficiencies (Okabe-Ito).
TRAIN, VAL, EXTRA, IDEAL = "#0072B2", "#D55E00", "#009E73", "#777777"
SERIES = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "axes.grid": True, "grid.alpha": 0.3,
                     "axes.spines.top": False, "axes.spines.right": False, "font.size": 9,
                     "legend.fontsize": 8, "legend.frameon": False})


def new(width: float = 6.4, height: float = 3.4, ncols: int = 1, nrows: int = 1, **kw):
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)
    return fig, axes


def to_figure(fig, alt: str, caption: str = "", layout: bool = True) -> Figure:
    """Render, close (figures are not garbage-collected while pyplot holds them) and embed.

    layout=False for figures a library laid out itself (optuna's colorbars are their own axes, which
    tight_layout would push over the plots); those are cropped to their contents instead."""
    buf = io.BytesIO()
    if layout:
        fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches=None if layout else "tight")
    plt.close(fig)
    from PIL import Image

    with Image.open(io.BytesIO(buf.getvalue())) as im:  # the real size, after any cropping
        w, h = im.size
    return Figure(png_uri(buf.getvalue()), alt, caption, w, h)


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def from_axes(ax, alt: str, caption: str = "", size: tuple[float, float] | None = None) -> Figure:
    """Embed a figure some library drew (optuna.visualization.matplotlib returns axes)."""
    first = ax.flat[0] if isinstance(ax, np.ndarray) else ax
    fig = first.figure
    if size:
        fig.set_size_inches(*size)
    for a in fig.axes:
        leg = a.get_legend()
        if leg is not None and len(leg.get_texts()) > 10:  # one entry per trial: unreadable, and covers the plot
            leg.remove()
    return to_figure(fig, alt, caption, layout=False)


def image_file(path, alt: str, caption: str = "", max_side: int = 1024) -> Figure | None:
    """A PNG/JPEG written by a run (e.g. a GAN sample grid), re-encoded as PNG and embedded.

    Re-encoding through Pillow both caps the size of the report and guarantees the browser gets
    a well-formed PNG, whatever the file on disk holds. Returns None for an unreadable file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if max(im.size) > max_side:
                im.thumbnail((max_side, max_side))
            if im.mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGBA")
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            return Figure(png_uri(buf.getvalue()), alt, caption, im.size[0], im.size[1])
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def heatmap(matrix, labels: list[str], title: str, xlabel: str, ylabel: str, alt: str, caption: str = ""):
    """Row-normalised colours (each row is the distribution of predictions for one true class),
    with the raw counts written in the cells while they stay legible."""
    m = np.asarray(matrix, dtype=float)
    n = len(m)
    rows = m.sum(1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    side = min(7.5, max(3.6, 0.42 * n + 1.6))
    fig, axes = new(side + 0.9, side)
    ax = axes[0, 0]
    ax.grid(False)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ticks = np.arange(n)
    shown = labels if n <= 40 else [lab if i % max(1, n // 20) == 0 else "" for i, lab in enumerate(labels)]
    ax.set_xticks(ticks, shown, rotation=90 if max((len(s) for s in labels), default=0) > 3 else 0)
    ax.set_yticks(ticks, shown)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7 if n > 12 else 8,
                            color="white" if frac[i, j] > 0.5 else "#222")
    return to_figure(fig, alt, caption)
