"""The results store: every benchmark session, run and score, with the hardware inventory, in SQLite.

Plain stdlib sqlite3: three tables, JSON in TEXT columns for the nested parts (inventory,
definition, score). `device_count` is a column of its own (the world size of the run) so
scaling sweeps (1, 2, 4 devices of the same system) compare in one query.

    sessions  one `bench run` of one benchmark on one system at one device count: its score
    runs      one timed run (result_<i>.txt): time-to-train, verdict of the compliance checker
    systems   the inventory each session was measured on (a row per session, so a changed
              machine under an old name is still visible)
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from dlbench.errors import UserError

DEFAULT_DB = Path("results") / "dlbench.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    benchmark_version TEXT NOT NULL,
    division TEXT NOT NULL,
    system TEXT NOT NULL,
    device TEXT NOT NULL,            -- e.g. "cuda (NVIDIA H200)" or "cpu (AMD EPYC ...)"
    device_count INTEGER NOT NULL,   -- world size: the distributed scaling sweep writes 1, 2, 4, ...
    results_dir TEXT NOT NULL,
    n_runs INTEGER NOT NULL,
    olympic_mean_s REAL,             -- NULL when the score is invalid
    median_s REAL,
    stdev_s REAL,
    samples_per_s REAL,              -- samples to target / time-to-train, mean over converged runs
    train_samples_per_s REAL,        -- throughput of the training steps only (no evaluation)
    valid INTEGER NOT NULL,
    official INTEGER NOT NULL,
    reason TEXT NOT NULL,
    definition TEXT NOT NULL,        -- JSON of the benchmark definition
    score TEXT NOT NULL,             -- JSON of score.Score.as_dict()
    versions TEXT NOT NULL,          -- JSON: dlbench, torch, python, cuda
    config TEXT NOT NULL DEFAULT ''  -- the resolved config YAML of the runs (seed aside)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    idx INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    result_file TEXT NOT NULL,
    status TEXT NOT NULL,            -- run_stop status: success | aborted
    passed_check INTEGER NOT NULL,   -- the compliance checker's verdict; failed runs are excluded
    check_reason TEXT NOT NULL,
    time_to_train_s REAL,
    init_s REAL,
    init_over_cap INTEGER NOT NULL,
    steps INTEGER,
    samples INTEGER,
    final_metric REAL,
    samples_per_s REAL,
    train_samples_per_s REAL
);
CREATE TABLE IF NOT EXISTS systems (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id),
    name TEXT NOT NULL,
    inventory TEXT NOT NULL,
    description TEXT NOT NULL        -- the MLPerf systems/<name>.json
);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(path, timeout=30)
        con.executescript(_SCHEMA)
        row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            con.commit()
        elif int(row[0]) > SCHEMA_VERSION:
            raise UserError(f"{path} was written by a newer dlbench (schema {row[0]})", "upgrade dlbench")
    except sqlite3.DatabaseError as e:
        raise UserError(f"{path} is not a dlbench results database ({e})", "pass another --db") from None
    con.row_factory = sqlite3.Row
    return con


def record_session(db: str | Path, session: dict, runs: list[dict], inventory: dict, description: dict) -> int:
    """Store one `bench run`; returns the session id. One transaction: all of it or nothing."""
    cols = ("benchmark", "benchmark_version", "division", "system", "device", "device_count", "results_dir",
            "n_runs", "olympic_mean_s", "median_s", "stdev_s", "samples_per_s", "train_samples_per_s", "valid",
            "official", "reason")
    run_cols = ("idx", "seed", "result_file", "status", "passed_check", "check_reason", "time_to_train_s", "init_s",
                "init_over_cap", "steps", "samples", "final_metric", "samples_per_s", "train_samples_per_s")
    with closing(connect(db)) as con, con:
        cur = con.execute(
            f"INSERT INTO sessions (created_at, {', '.join(cols)}, definition, score, versions, config) "
            f"VALUES (?, {', '.join('?' * len(cols))}, ?, ?, ?, ?)",
            (time.strftime("%Y-%m-%dT%H:%M:%S"), *(session[c] for c in cols), json.dumps(session["definition"]),
             json.dumps(session["score"]), json.dumps(session["versions"]), session.get("config", "")))
        sid = cur.lastrowid
        con.executemany(f"INSERT INTO runs (session_id, {', '.join(run_cols)}) VALUES (?, {', '.join('?' * len(run_cols))})",
                        [(sid, *(r[c] for c in run_cols)) for r in runs])
        con.execute("INSERT INTO systems VALUES (?, ?, ?, ?)",
                    (sid, session["system"], json.dumps(inventory), json.dumps(description)))
    return sid


def latest_sessions(db: str | Path) -> list[dict]:
    """The newest session per (benchmark, system, device_count), oldest benchmark first."""
    path = Path(db)
    if not path.is_file():
        raise UserError(f"results database {path} does not exist", "run `dlbench bench run` first, or pass --db")
    with closing(connect(path)) as con:
        rows = con.execute(
            "SELECT * FROM sessions s WHERE id = (SELECT MAX(id) FROM sessions t WHERE t.benchmark = s.benchmark "
            "AND t.system = s.system AND t.device_count = s.device_count) "
            "ORDER BY benchmark, system, device_count").fetchall()
    return [dict(r) for r in rows]


def session_runs(db: str | Path, session_id: int) -> list[dict]:
    with closing(connect(db)) as con:
        return [dict(r) for r in con.execute("SELECT * FROM runs WHERE session_id = ? ORDER BY idx", (session_id,))]
