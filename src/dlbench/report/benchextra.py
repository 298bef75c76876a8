"""The optional parts of a benchmark report: system descriptions, profiler sizing advice, the results store.

Each is read if present, in whatever of the documented places it is, and rendered generically
(scalars as facts, lists of records as tables) so that a field added later still shows up.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from dlbench.report.document import Absent, Facts, Section, Table, Text

SYSTEM_FIELDS = ("system_name", "submitter", "division", "status", "number_of_nodes", "accelerators_per_node",
                 "accelerator_model_name", "accelerator_memory_capacity", "accelerator_interconnect",
                 "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
                 "host_memory_capacity", "host_storage_type", "framework", "operating_system")
STORE_NAMES = ("dlbench.sqlite", "results.sqlite", "results.db", "store.db")
MAX_ROWS = 25


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None


def _places(root: Path, sub: str) -> list[Path]:
    """results/<sub> (dlbench's layout) and <submission>/<sub> beside results/ (MLPerf's)."""
    return [d for d in (root / sub, root.parent / sub) if d.is_dir()]


def store_device_counts(root: Path) -> dict[tuple[str, str], int]:
    """(system, benchmark) -> device count recorded by the results store, when it holds exactly one."""
    db = next((d / n for d in (root, root.parent) for n in STORE_NAMES if (d / n).is_file()), None)
    if db is None:
        return {}
    seen: dict[tuple[str, str], set] = {}
    try:
        con = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
        try:
            for system, bench, n in con.execute("SELECT system, benchmark, device_count FROM sessions"):
                seen.setdefault((system, bench), set()).add(n)
        finally:
            con.close()
    except sqlite3.Error:  # an older or foreign store: device counts then come from systems/*.json
        return {}
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1 and isinstance(next(iter(v)), int)}


def load_systems(root: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for d in _places(root, "systems"):
        for f in sorted(d.glob("*.json")):
            doc = _json(f)
            if isinstance(doc, dict):
                out.setdefault(f.stem, doc)
    return out


def systems_section(systems: dict[str, dict]) -> Section:
    s = Section("Systems")
    if not systems:
        return s.add(Absent("system descriptions", "no systems/<system>.json in or beside the results folder; "
                            "device counts come from the submission_platform in the logs"))
    for name, d in systems.items():
        if set(d) <= {"_device_count"}:
            continue  # known only from the store, no description file
        s.add(Text(name), Facts([(k.replace("_", " "), d.get(k)) for k in SYSTEM_FIELDS if d.get(k) not in (None, "")]))
    return s


def _profiles(root: Path) -> list[Path]:
    files = [f for d in _places(root, "profiles") for f in sorted(d.rglob("*.json"))]
    for d in (root, root.parent):
        files += sorted(d.glob("profile*.json")) + sorted(d.glob("*-profile.json"))
    return list(dict.fromkeys(files))


def _scalars(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _scalars(v, f"{prefix}{k}.")
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out.append((f"{prefix}{k}".replace("_", " "), v))
    return out


def _advice(doc) -> list[tuple[str, str]]:
    """Sizing recommendations as (sentence, tone), from `dlbench profile --json` or a similar report."""
    lines: list[tuple[str, str]] = []
    for key in ("recommendations", "recommendation", "advice", "sizing"):
        v = doc.get(key) if isinstance(doc, dict) else None
        for item in (v if isinstance(v, list) else [v] if v else []):
            if isinstance(item, str):
                lines.append((item, "note"))
            elif isinstance(item, dict):
                text = item.get("message") or item.get("text") or item.get("recommendation") or item.get("advice")
                sev, kind = item.get("severity", ""), item.get("kind", "")
                head = " ".join(dict.fromkeys(x for x in (sev, kind.replace("_", " ")) if x))
                lines.append((f"{head + ': ' if head else ''}{text or json.dumps(item)}",
                              {"warning": "warn", "ok": "good"}.get(sev, "note")))
    return lines


def sizing(root: Path, extra: list[Path] | None = None) -> Section:
    s = Section("Sizing recommendations (profiler)")
    files = list({f.resolve(): f for f in [*(extra or []), *_profiles(root)]}.values())
    if not files:
        return s.add(Absent("profiler output", "no profiles/*.json or profile*.json in or beside the results folder; "
                            "save `dlbench profile CONFIG --json > profiles/<name>.json` (or pass --profile FILE) "
                            "for throughput, data-stall fraction and sizing advice"))
    for f in files[:12]:
        doc = _json(f)
        if not isinstance(doc, dict):
            s.add(Absent(f.name, "not a readable JSON object"))
            continue
        s.add(Text(f"{f.name}" + (f" (config {doc['config']})" if isinstance(doc.get("config"), str) else "")))
        advice = _advice(doc)
        for line, tone in advice:
            s.add(Text(line, tone))
        skip = {"recommendations", "recommendation", "advice", "sizing", "inventory"}
        m = doc.get("measurements") if isinstance(doc.get("measurements"), dict) else doc
        facts = _scalars({k: v for k, v in m.items() if k not in skip})
        if facts:
            s.add(Facts(facts[:40]))
        if not advice:
            s.add(Absent("recommendations", f"{f.name} lists none"))
    return s


def scaling_docs(root: Path) -> list:
    """Tables of the scaling sweeps `bench run --scaling` recorded (results/scaling-<benchmark>-<system>.json)."""
    out: list = []
    for f in sorted(root.glob("scaling-*.json")):
        doc = _json(f)
        pts = doc.get("points") if isinstance(doc, dict) else None
        if not isinstance(pts, list) or not pts:
            out.append(Absent(f.name, "not a scaling sweep record"))
            continue
        cols = ["devices", "global_batch_size", "per_device_batch_size", "lr", "time_to_train_s", "speedup",
                "efficiency", "train_samples_per_s", "throughput_speedup", "converged", "runs"]
        cols = [c for c in cols if any(c in p for p in pts if isinstance(p, dict))]
        out.append(Table([c.replace("_", " ") for c in cols], [[p.get(c) for c in cols] for p in pts if isinstance(p, dict)],
                         f"{f.name}: {doc.get('benchmark')} on {doc.get('system')}, {doc.get('mode', '')} "
                         f"(recorded by the sweep; speedup against {doc.get('baseline_devices', 'the fewest')} device(s))"))
    return out


def store_section(root: Path) -> Section:
    s = Section("Results store")
    db = next((d / n for d in (root, root.parent) for n in STORE_NAMES if (d / n).is_file()), None)
    if db is None:
        return s.add(Absent("results store", f"no {STORE_NAMES[0]} in or beside the results folder"))
    try:
        # read-only: a report must not create journals or lock a store a benchmark may be writing
        con = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            s.add(Facts([("store", str(db)), ("tables", ", ".join(tables) or "none")]))
            for t in tables:
                q = '"' + t.replace('"', '""') + '"'
                n = con.execute(f"SELECT COUNT(*) FROM {q}").fetchone()[0]
                cur = con.execute(f"SELECT * FROM {q} ORDER BY rowid DESC LIMIT {MAX_ROWS}")
                cols = [c[0] for c in cur.description][:10]
                rows = [[_cell(v) for v in row[:10]] for row in cur.fetchall()]
                s.add(Table(cols, rows, f"{t}: {n} rows{f' (latest {MAX_ROWS})' if n > MAX_ROWS else ''}", numeric=False))
        finally:
            con.close()
    except sqlite3.Error as e:
        s.add(Absent("results store", f"{db} is not a readable SQLite database ({e})"))
    return s


def _cell(v):
    if isinstance(v, bytes):
        return f"<{len(v)} bytes>"
    if isinstance(v, str) and len(v) > 160:
        return v[:157] + "..."
    return v
