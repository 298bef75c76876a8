"""The results folder: what dlbench writes where, and reading it back.

    results/                              (`--out`; an MLPerf submission's layout, one org)
      <system>/<benchmark>/result_<i>.txt one MLPerf log per run, nothing else
      <system>/<model>/<scenario>/        `bench infer`: LoadGen's logs (skipped here)
      systems/<system>.json               MLPerf system description of each system
      benchmarks/<name>.json              definition of each custom (open division) benchmark
      dlbench.sqlite                      the results store; compare.png, the comparison chart

Anything else in the folder is foreign and refused, so a stray file is never checked,
scored or compared as if it were a result.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from dlbench.bench.check import DEFINITIONS, Definition
from dlbench.bench.infer.records import SCENARIO_DIRS, is_inference_dir
from dlbench.errors import UserError

_RESULT_NAME = re.compile(r"result_\d+\.txt")
# What dlbench itself keeps at the top of a results folder, beside the <system> folders:
# MLPerf-style system descriptions, custom benchmark definitions, the results store and
# the comparison chart. Anything else is foreign.
SYSTEMS_DIR, BENCHMARKS_DIR = "systems", "benchmarks"
STORE_FILES = re.compile(r"dlbench\.sqlite(-journal|-wal|-shm)?|compare\.png|scaling-[\w.-]+\.(json|png)")
RESERVED_NAMES = {SYSTEMS_DIR, BENCHMARKS_DIR}


def _foreign(path: Path, expected: str) -> UserError:
    return UserError(
        f"unexpected file {path} in the results directory",
        f"expected {expected} (layout results/<system>/<benchmark>/result_<i>.txt); move it out",
    )


def custom_definition(root: Path, benchmark: str) -> Definition | None:
    """The definition `bench run` recorded for a custom benchmark in benchmarks/<name>.json."""
    path = root / BENCHMARKS_DIR / f"{benchmark}.json"
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        return Definition(int(d["global_batch_size"]), str(d["opt_name"]), float(d["target"]),
                          str(d.get("metric", "")), str(d.get("op", ">=")))
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a benchmark definition ({e})", "rerun the custom benchmark") from None


def list_result_files(results_dir: str | Path) -> list[tuple[Path, str, Definition | None]]:
    """(file, benchmark, custom definition or None) for results/<system>/<benchmark>/result_<i>.txt."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"results directory {root} does not exist",
                        "pass the 'results' folder of an MLPerf-style layout")
    found: list[tuple[Path, str, Definition | None]] = []
    for system in sorted(root.iterdir()):
        if system.name in RESERVED_NAMES and system.is_dir():
            for f in system.iterdir():
                if not (f.is_file() and f.suffix == ".json"):
                    raise _foreign(f, f"only <name>.json files in {system.name}/")
            continue
        if system.is_file() and STORE_FILES.fullmatch(system.name):
            continue
        if not system.is_dir():
            raise _foreign(system, "only <system> folders")
        for bench in sorted(system.iterdir()):
            if not bench.is_dir():
                raise _foreign(bench, "only <benchmark> folders")
            if is_inference_dir(bench):
                continue  # <model>/<scenario>/ of `bench infer`: LoadGen logs, not time-to-train results
            custom = None if bench.name in DEFINITIONS else custom_definition(root, bench.name)
            if bench.name not in DEFINITIONS and custom is None:
                raise UserError(
                    f"unknown benchmark folder {bench}",
                    f"benchmark folders are named one of: {', '.join(DEFINITIONS)} "
                    f"(or a custom benchmark with {BENCHMARKS_DIR}/<name>.json)",
                )
            for f in sorted(bench.iterdir()):
                if f.is_dir() and f.name in SCENARIO_DIRS:
                    continue  # `bench infer` logs of a model named like this benchmark
                if not (f.is_file() and _RESULT_NAME.fullmatch(f.name)):
                    raise _foreign(f, "only result_<i>.txt files")
                found.append((f, bench.name, custom))
    # Sorted numerically so result_10 follows result_9.
    found.sort(key=lambda t: (t[0].parent, int(t[0].stem.split("_")[1])))
    return found



def read_log(path: Path) -> list[dict]:
    """The records of an MLPerf result file (`:::MLLOG {json}` lines)."""
    out = []
    for line in Path(path).read_text().splitlines():
        if ":::MLLOG " in line:
            try:
                out.append(json.loads(line.split(":::MLLOG ", 1)[1]))
            except json.JSONDecodeError:
                continue
    return out


def time_to_train_s(path: Path) -> float | None:
    """run_stop - run_start of a result file, in seconds (None without both), as MLPerf's summarizer reads it."""
    t = {r["key"]: r["time_ms"] for r in read_log(path) if r.get("key") in ("run_start", "run_stop")}
    return (t["run_stop"] - t["run_start"]) / 1e3 if len(t) == 2 else None
