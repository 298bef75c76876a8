"""The plot of predicted time-to-train against device count, one line per candidate (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path


def curves_figure(doc: dict):
    import matplotlib

    matplotlib.use("Agg")  # files only: servers have no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name, pts in doc["curves"].items():
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o", ms=3, label=name)
    if doc.get("target_s"):
        ax.axhline(doc["target_s"], color="#777777", ls="--", lw=1, label="target")
    mt = (doc.get("this_machine") or {}).get("measured_time_to_train")
    if mt:
        ax.scatter([doc["source"].get("device_count_measured") or 1], [mt["value"]], marker="*", s=90, color="black",
                   zorder=5, label="measured here")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="devices (GPUs; CPUs: sockets/nodes)", ylabel="predicted time to train (s)",
           title=f"time to train vs device count: {doc['source']['label']}"[:90])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def curves_png(doc: dict, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    fig = curves_figure(doc)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
