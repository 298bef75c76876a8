"""Inference results in the results store, and the rows `bench compare` shows beside time-to-train.

One table, `inference`, in the same SQLite file as the training sessions (bench/store.py's
`connect`, which also creates the training tables): a row per `bench infer` measurement, with its
LoadGen verdict, headline figure, latencies, the whole result document and the hardware inventory.
Created here with CREATE TABLE IF NOT EXISTS, so older databases gain it on first use.
"""
from __future__ import annotations

import json
import time
from contextlib import closing
from pathlib import Path

SCENARIO_DIRS = ("single-stream", "multi-stream", "server", "offline")

_DDL = """
CREATE TABLE IF NOT EXISTS inference (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    system TEXT NOT NULL,
    model TEXT NOT NULL,             -- the run directory's name
    run_dir TEXT NOT NULL,
    task TEXT NOT NULL,              -- classification | regression | seq2seq | generation
    scenario TEXT NOT NULL,          -- single-stream | multi-stream | server | offline
    backend TEXT NOT NULL,           -- in-process | http
    device TEXT NOT NULL,
    mode TEXT NOT NULL,              -- performance | accuracy
    full INTEGER NOT NULL,           -- 1: LoadGen's full-length settings; 0: a short (indicative) run
    valid INTEGER NOT NULL,          -- LoadGen's verdict (accuracy mode: the score matched evaluate's)
    reasons TEXT NOT NULL,           -- JSON list: why INVALID
    metric TEXT NOT NULL,            -- the scenario's headline figure, e.g. "p90 latency"
    value REAL,
    unit TEXT NOT NULL,
    samples_per_s REAL,
    mean_latency_ms REAL,
    p90_latency_ms REAL,
    p99_latency_ms REAL,
    latency_bound_ms REAL,
    accuracy TEXT NOT NULL,          -- JSON: scores of LoadGen's accuracy log ({} in performance mode)
    results_dir TEXT NOT NULL,       -- where LoadGen's logs are
    document TEXT NOT NULL,          -- JSON: the whole result (settings, search, advice)
    inventory TEXT NOT NULL          -- JSON: bench.sysinfo.collect_inventory()
);
"""


def _connect(db: str | Path):
    from dlbench.bench.store import connect

    con = connect(db)
    con.executescript(_DDL)
    return con


def record_inference(db: str | Path, doc: dict, inventory: dict) -> int:
    lat = doc.get("latency_ms") or {}
    acc = (doc.get("accuracy") or {}).get("metrics", {})
    row = {"created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "system": doc["system"], "model": doc["model"],
           "run_dir": doc["run_dir"], "task": doc["task"], "scenario": doc["scenario"], "backend": doc["backend"],
           "device": str(doc["device"]), "mode": doc["mode"], "full": int(doc["full"]), "valid": int(bool(doc["valid"])),
           "reasons": json.dumps(doc["reasons"]), "metric": doc["metric"], "value": doc["value"], "unit": doc["unit"],
           "samples_per_s": doc["samples_per_s"], "mean_latency_ms": lat.get("mean"), "p90_latency_ms": lat.get("p90"),
           "p99_latency_ms": lat.get("p99"), "latency_bound_ms": doc.get("latency_bound_ms"),
           "accuracy": json.dumps(acc), "results_dir": doc["results_dir"], "document": json.dumps(doc, default=str),
           "inventory": json.dumps(inventory, default=str)}
    with closing(_connect(db)) as con, con:
        cur = con.execute(f"INSERT INTO inference ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                          tuple(row.values()))
        return int(cur.lastrowid)


def latest_inference(db: str | Path) -> list[dict]:
    """The newest row per (system, model, scenario, backend, mode)."""
    with closing(_connect(db)) as con:
        rows = con.execute(
            "SELECT * FROM inference i WHERE id = (SELECT MAX(id) FROM inference j WHERE j.system = i.system "
            "AND j.model = i.model AND j.scenario = i.scenario AND j.backend = i.backend AND j.mode = i.mode) "
            "ORDER BY model, system, scenario, backend, mode").fetchall()
    return [_row(dict(r)) for r in rows]


def _row(r: dict) -> dict:
    return {"kind": "inference", "model": r["model"], "system": r["system"], "scenario": r["scenario"],
            "backend": r["backend"], "device": r["device"], "mode": r["mode"], "full": bool(r["full"]),
            "valid": bool(r["valid"]), "reasons": json.loads(r["reasons"]), "metric": r["metric"], "value": r["value"],
            "unit": r["unit"], "samples_per_s": r["samples_per_s"], "p99_latency_ms": r["p99_latency_ms"],
            "accuracy": json.loads(r["accuracy"]), "results_dir": r["results_dir"]}


def is_inference_dir(path: Path) -> bool:
    """results/<system>/<model>/ written by `bench infer`: holds only <scenario>/ folders."""
    children = list(path.iterdir()) if path.is_dir() else []
    return bool(children) and all(c.is_dir() and c.name in SCENARIO_DIRS for c in children)


def _rows_from_folder(root: Path) -> list[dict]:
    """Without a database: the dlbench_infer.json that `bench infer` leaves beside LoadGen's logs."""
    from dlbench.bench.infer.runner import RESULT_FILE

    out = []
    for f in sorted(root.glob(f"*/*/*/{RESULT_FILE}")) + sorted(root.glob(f"*/*/*/accuracy/{RESULT_FILE}")):
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        lat = d.get("latency_ms") or {}
        out.append(_row({**d, "full": d.get("full"), "valid": d.get("valid"), "reasons": json.dumps(d.get("reasons", [])),
                         "p99_latency_ms": lat.get("p99"),
                         "accuracy": json.dumps((d.get("accuracy") or {}).get("metrics", {}))}))
    return out


def inference_rows(source: str | Path, db: str | Path | None = None) -> list[dict]:
    """Inference rows for `bench compare SOURCE` (a results folder or database); [] when there are none."""
    p = Path(db) if db else Path(source)
    if p.is_dir() and (p / "dlbench.sqlite").is_file():
        p = p / "dlbench.sqlite"
    if p.is_file():
        return latest_inference(p)
    return _rows_from_folder(p) if p.is_dir() else []


def inference_table(rows: list[dict]):
    from rich.table import Table

    t = Table(title="Inference (MLPerf LoadGen): newest measurement per model, system, scenario and back end")
    for c, j in (("model", "left"), ("system", "left"), ("scenario", "left"), ("back end", "left"), ("mode", "left"),
                 ("result", "right"), ("samples/s", "right"), ("p99 [ms]", "right"), ("verdict", "left")):
        t.add_column(c, justify=j)
    for r in rows:
        if r["mode"] == "accuracy":
            result = ", ".join(f"{k} {v:.4g}" for k, v in r["accuracy"].items() if isinstance(v, float))[:40] or "-"
        else:
            result = "-" if r["value"] is None else f"{r['value']:.4g} {r['unit']}"
        short = not r["full"] and r["mode"] == "performance"
        verdict = ("VALID" if r["valid"] else "INVALID") + (" (short run)" if short else "")
        t.add_row(r["model"], r["system"], r["scenario"], f"{r['backend']} ({r['device']})", r["mode"], result,
                  "-" if r["samples_per_s"] is None else f"{r['samples_per_s']:.0f}",
                  "-" if r["p99_latency_ms"] is None else f"{r['p99_latency_ms']:.3f}", verdict)
    return t
