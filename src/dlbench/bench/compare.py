"""`dlbench bench compare`: time-to-train per benchmark, system and device count, with speedup
and scaling efficiency against one device of the same system; a rich table and a PNG chart.

Reads the results store (newest session per benchmark, system and device count) or, for a
results folder without one, the result files themselves (checked and scored again).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from dlbench.errors import UserError


def rows_from_db(db: Path) -> list[dict]:
    from dlbench.bench.store import latest_sessions

    return [{"benchmark": s["benchmark"], "system": s["system"], "device": s["device"],
             "device_count": s["device_count"], "time_s": s["olympic_mean_s"], "stdev_s": s["stdev_s"],
             "median_s": s["median_s"], "n_runs": s["n_runs"], "official": bool(s["official"]),
             "samples_per_s": s["samples_per_s"], "reason": s["reason"]} for s in latest_sessions(db)]


def rows_from_folder(root: Path) -> list[dict]:
    """Score the result files of an MLPerf-style results folder (no database needed)."""
    from dlbench.bench.check import check_result_file
    from dlbench.bench.layout import list_result_files, read_log, time_to_train_s
    from dlbench.bench.score import score_runs
    from dlbench.bench.suite import suite

    groups: dict[tuple[str, str], list] = {}
    for f, bench, custom in list_result_files(root):
        groups.setdefault((f.parent.parent.name, bench), []).append((f, custom))
    if not groups:
        raise UserError(f"no result files under {root}", "expected results/<system>/<benchmark>/result_<i>.txt")
    shipped, rows = suite(), []
    for (system, bench), files in sorted(groups.items()):
        runs, platform = [], ""
        for f, custom in files:
            runs.append((time_to_train_s(f) or 0.0, check_result_file(f, bench, custom).passed))
            platform = next((r["value"] for r in read_log(f) if r.get("key") == "submission_platform"), platform)
        m = re.match(r"^(\d+)x(.*)$", str(platform))  # the harness writes "<devices>x<device name>"
        min_runs = shipped[bench].min_runs if bench in shipped else 5
        score = score_runs(runs, min_runs)
        devices = int(m.group(1)) if m else 1
        # a scaling sweep keeps each device count in its own MLPerf system folder, <system>-x<n>
        system = re.sub(rf"-x{devices}$", "", system) if devices > 1 else system
        rows.append({"benchmark": bench, "system": system, "device": m.group(2) if m else platform,
                     "device_count": devices, "time_s": score.olympic_mean_s,
                     "stdev_s": score.stdev_s, "median_s": score.median_s, "n_runs": score.n_runs,
                     "official": score.official and bench in shipped, "samples_per_s": None, "reason": score.reason})
    return rows


def load_rows(source: str | Path, db: str | Path | None = None) -> list[dict]:
    if db:
        return rows_from_db(Path(db))
    p = Path(source)
    if p.is_file():
        return rows_from_db(p)
    if (p / "dlbench.sqlite").is_file():
        return rows_from_db(p / "dlbench.sqlite")
    if p.is_dir():
        return rows_from_folder(p)
    raise UserError(f"{source} is neither a results folder nor a results database",
                    "pass the folder `dlbench bench run --out` wrote (default results/)")


def add_scaling(rows: list[dict]) -> list[dict]:
    """speedup = T(1 device) / T(n devices) on the same system; efficiency = speedup / n."""
    base = {(r["benchmark"], r["system"]): r["time_s"] for r in rows if r["device_count"] == 1 and r["time_s"]}
    for r in rows:
        t1 = base.get((r["benchmark"], r["system"]))
        r["speedup"] = t1 / r["time_s"] if t1 and r["time_s"] else None
        r["efficiency"] = r["speedup"] / r["device_count"] if r["speedup"] else None
    return rows


def compare_table(rows: list[dict]):
    from rich.table import Table

    fmt = lambda v, f="{:.2f}": "-" if v is None else f.format(v)  # noqa: E731
    t = Table(title="Time to train (olympic mean of the runs)")
    for c, j in (("benchmark", "left"), ("system", "left"), ("devices", "right"), ("time to train [s]", "right"),
                 ("runs", "right"), ("samples/s", "right"), ("speedup vs 1", "right"), ("efficiency", "right"),
                 ("status", "left")):
        t.add_column(c, justify=j)
    devices = {}
    for r in rows:
        status = "official" if r["official"] else ("unofficial" if r["time_s"] is not None else "invalid")
        time_s = fmt(r["time_s"], "{:.3f}") + ("" if r["stdev_s"] is None else f" ± {r['stdev_s']:.3f}")
        t.add_row(r["benchmark"], r["system"], str(r["device_count"]), time_s, str(r["n_runs"]),
                  fmt(r["samples_per_s"], "{:.0f}"), fmt(r["speedup"], "{:.2f}x"), fmt(r["efficiency"], "{:.0%}"),
                  status)
        devices[r["system"]] = r["device"]
    t.caption = "; ".join(f"{k}: {v}" for k, v in devices.items())
    return t


def compare_chart(rows: list[dict], path: str | Path) -> Path | None:
    """Horizontal bars of time-to-train per (system, device count), one panel per benchmark."""
    rows = [r for r in rows if r["time_s"] is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    benches = sorted({r["benchmark"] for r in rows})
    fig, axes = plt.subplots(len(benches), 1, figsize=(7, 1.2 + 0.5 * len(rows)), squeeze=False)
    for ax, b in zip(axes[:, 0], benches):
        rs = sorted((r for r in rows if r["benchmark"] == b), key=lambda r: (r["system"], r["device_count"]))
        labels = [f"{r['system']} x{r['device_count']}" for r in rs]
        ax.barh(labels, [r["time_s"] for r in rs], xerr=[r["stdev_s"] or 0 for r in rs], color="#4c72b0")
        right = [r["time_s"] + (r["stdev_s"] or 0) for r in rs]
        for y, (r, x) in enumerate(zip(rs, right)):
            note = f" {r['time_s']:.3g} s" + (f" ({r['speedup']:.2f}x)" if r.get("speedup") and r["device_count"] > 1 else "")
            ax.text(x, y, note, va="center", fontsize=8)
        ax.set_xlim(0, max(right) * 1.35)  # room for the labels
        ax.set_title(b, fontsize=10)
        ax.set_xlabel("time to train [s] (lower is better)")
        ax.invert_yaxis()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def rows_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=1)
