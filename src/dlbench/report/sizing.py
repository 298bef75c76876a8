"""The 'Server sizing' section of a benchmark report: what `dlbench size RESULTS --save FILE` predicted.

Found beside the results folder (results/ holds only the MLPerf layout): sizing*.json, *-sizing.json,
or sizing/*.json in the folder that contains results/. Each file gets the plot of predicted
time-to-train against device count for each candidate, the candidates table and the advice; every
figure keeps the source `dlbench size` gave it.
"""
from __future__ import annotations

import json
from pathlib import Path

from dlbench.report import figures as F
from dlbench.report.document import Absent, Section, Table, Text


def sizing_files(root: Path) -> list[Path]:
    base = root.resolve().parent
    files = sorted(base.glob("sizing*.json")) + sorted(base.glob("*-sizing.json")) + sorted((base / "sizing").glob("*.json"))
    return list(dict.fromkeys(files))


def _doc(path: Path):
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("curves"), dict) and doc.get("candidates") else None


def _plot(doc: dict, name: str):
    fig, axes = F.new(6.4, 3.8)
    ax = axes[0, 0]
    for i, (dev, pts) in enumerate(doc["curves"].items()):
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", ms=3, color=F.SERIES[i % len(F.SERIES)], label=dev)
    if doc.get("target_s"):
        ax.axhline(doc["target_s"], color=F.IDEAL, ls="--", lw=1, label="target")
    mt = (doc.get("this_machine") or {}).get("measured_time_to_train")
    if mt and mt.get("value"):
        ax.scatter([(doc.get("source") or {}).get("device_count_measured") or 1], [mt["value"]], marker="*", s=90,
                   color="black", zorder=5, label="measured here")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="devices", ylabel="predicted time to train (s)", title=f"{name}: time to train vs device count")
    ax.legend(fontsize=7)
    return F.to_figure(fig, f"predicted time to train against device count, {name}",
                       "Each line is one candidate device (this machine first); the star is the time measured here. "
                       "Flat lines: the step is bound by operator launches or the all-reduce, not by FLOPs.")


def sizing_section(root: Path) -> Section:
    s = Section("Server sizing (predicted time-to-train)")
    files = sizing_files(root)
    if not files:
        return s.add(Absent("sizing", "no sizing*.json beside the results folder; save one with "
                            f"`dlbench size {root.name} --save sizing.json`"))
    for f in files[:6]:
        doc = _doc(f)
        if doc is None:
            s.add(Absent(f.name, "not a `dlbench size --json` document"))
            continue
        src = doc.get("source") or {}
        s.add(Text(f"{f.name}: {src.get('label')}"), _plot(doc, f.stem))
        eff = doc.get("efficiency") or {}
        if eff:
            s.add(Text(f"efficiency of this machine {eff.get('value', 0):.1%}: {eff.get('source')}", "note"))
        rows = [[p["device"], p["devices"], p["time_to_train"]["value"], p["step_time"]["value"], p["bound"],
                 p["efficiency"]["value"], p["cpu_cores_per_device"]["value"], p["ram_per_node"]["value"] / 1e9,
                 p["storage_bw_per_node"]["value"] / 1e6, p["network_per_node"]["value"], p["time_to_train"]["source"]]
                for p in doc["candidates"]]
        s.add(Table(["device", "devices", "time to train (s)", "step (s)", "bound", "efficiency", "CPU cores/device",
                     "RAM/node (GB)", "storage/node (MB/s)", "network/node (Gb/s)", "basis"], rows,
                    "Predicted by the sizing model (docs/sizing.md); the basis column and the JSON file say where "
                    "each number comes from."))
        for line in doc.get("advice") or []:
            s.add(Text(line, "warn" if line.startswith("warning") else "note"))
    return s
