"""`dlbench bench infer`: one scenario of one model on one back end, start to stored result.

    load predictor + test samples -> back end -> calibrate (warm-up, outside LoadGen's clock)
      -> LoadGen test (Server: a search over target QPS) -> read LoadGen's summary
      -> accuracy mode: score LoadGen's accuracy log, compare with `dlbench evaluate`
      -> sizing advice -> dlbench_infer.json beside LoadGen's logs + a row in the results store

Logs live in results/<system>/<model>/<scenario>/ (accuracy mode: .../<scenario>/accuracy/, the
Server search's trials: .../server/search/NN-qps-Q/, the best VALID trial copied up).
"""
from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from dlbench.bench.infer.sut import SCENARIOS, Plan, Sut, check_scenario, run_test
from dlbench.bench.infer.summary import read_accuracy_log, read_summary
from dlbench.errors import UserError

RESULT_FILE = "dlbench_infer.json"


@dataclass
class InferOptions:
    scenario: str = "offline"
    url: str | None = None
    api_key_file: str | None = None
    model_name: str | None = None
    accuracy: bool = False
    full: bool = False
    duration_s: float = 1.0
    target_qps: float | None = None
    latency_bound_ms: float = 10.0
    batch_size: int = 256
    http_batch: int = 256
    concurrency: int | None = None  # HTTP requests in flight; None: 4 for Offline, 32 for Server
    http_encoding: str = "auto"
    search_steps: int = 6
    device: str | None = None
    threads: int | None = None
    system: str = "local"
    out: str = "results"
    db: str | None = None
    advice: bool = True
    sweep: tuple[int, ...] = (1, 8, 32, 128, 512)


def _check(run_dir: Path, o: InferOptions) -> str:
    scenario = check_scenario(o.scenario)
    if not (run_dir / "model.json").is_file():
        what = "does not exist" if not run_dir.exists() else "is not a model (no model.json)"
        raise UserError(f"{run_dir} {what}", "pass a finished run directory, e.g. runs/NAME from `dlbench train`")
    if o.target_qps is not None and not (o.target_qps > 0 and math.isfinite(o.target_qps)):
        raise UserError(f"--target-qps must be a positive number of queries per second (got {o.target_qps:g})")
    for name, v in (("--duration", o.duration_s), ("--latency-bound-ms", o.latency_bound_ms)):
        if not v > 0:
            raise UserError(f"{name} must be positive (got {v:g})")
    if o.concurrency is None:
        # Offline sends big requests: a few in flight keep the server busy without thrashing 2 cores.
        # Server sends one sample per request: at rate r and latency L, r * L are in flight at once.
        o.concurrency = 4 if scenario == "Offline" else 32
    for name, v in (("--batch-size", o.batch_size), ("--http-batch", o.http_batch), ("--concurrency", o.concurrency),
                    ("--search-steps", o.search_steps)):
        if v < 1:
            raise UserError(f"{name} must be at least 1 (got {v})")
    if o.api_key_file and not o.url:
        raise UserError("--api-key-file is for the HTTP back end", "add --url of the running server")
    return scenario


def _shape(kind: str, scenario: str, o: InferOptions) -> tuple[int, int]:
    """(rows per back-end call, worker threads; 0 = inline) of a scenario on a back end (see sut.py)."""
    if scenario == "SingleStream":
        return 1, 0
    if scenario == "MultiStream":
        return 8, 0
    if kind == "in-process":
        return o.batch_size, (1 if scenario == "Server" else 0)
    return (o.http_batch, o.concurrency) if scenario == "Offline" else (1, o.concurrency)


# --- calibration: warm-up and the expected figures LoadGen schedules with ----------------------------

def _latency(backend, n: int, rows: int, reps: int = 15) -> float:
    rng = np.random.default_rng(0)
    times = []
    for k in range(reps + 3):
        idx = rng.integers(0, n, size=rows)
        t0 = time.perf_counter()
        backend.infer(idx)
        if k >= 3:  # the first calls warm caches, allocators and connections
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _throughput(backend, n: int, rows: int, workers: int, seconds: float = 0.4) -> float:
    """Samples/s with `workers` threads each calling the back end back to back (0 = inline)."""
    if not workers:
        return rows / _latency(backend, n, rows, reps=5)
    done = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def loop(seed: int) -> None:
        rng = np.random.default_rng(seed)
        while time.perf_counter() < end:
            backend.infer(rng.integers(0, n, size=rows))
            with lock:
                done[0] += rows

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.perf_counter() - t0)


def _calibrate(backend, samples, scenario: str, rows: int, workers: int) -> float:
    from dlbench.bench.infer.backends import RequestFailed

    backend.prepare(np.arange(samples.n))
    try:
        if scenario in ("SingleStream", "MultiStream"):
            return _latency(backend, samples.n, rows)
        return _throughput(backend, samples.n, rows, workers)
    except RequestFailed as e:
        raise UserError(f"the server failed the warm-up requests ({e})", "check the server's log") from None


# --- one test, and the Server search --------------------------------------------------------------

def _more_queries(s: dict) -> int | None:
    """Queries LoadGen's early stopping asks for when only it failed ("Would need to run at least N more")."""
    if s["valid"] is not False or s["reasons"] != ["early stopping satisfied: no"]:
        return None
    text = " ".join(s["early_stopping"])
    done, more = re.search(r"Processed (\d+) queries", text), re.search(r"at least (\d+) more queries", text)
    return int(done.group(1)) + int(more.group(1)) if done and more else None


def _trial(sut, plan: Plan, model: str, outdir: Path) -> dict:
    stats = getattr(sut.backend, "batch_stats", lambda: None)
    before = stats()
    outcome = run_test(sut, plan, model, outdir)
    s = read_summary(outdir / "mlperf_log_summary.txt")
    need = _more_queries(s)
    if need and not plan.accuracy:
        # Every figure met its bound but too few queries ran for LoadGen to be confident of the
        # percentile: rerun once with the count it asked for (+50%), as a submitter would.
        outcome = run_test(sut, replace(plan, min_queries=int(need * 1.5)), model, outdir)
        s = read_summary(outdir / "mlperf_log_summary.txt")
    elif s["reasons"] == ["min duration satisfied: no"] and plan.scenario != "Server" and not plan.accuracy:
        # The calibration under-estimated the back end (a busy machine): LoadGen scheduled too little
        # work to fill the duration. Rerun once with the schedule scaled to what this run achieved.
        grow = max(2.0, 1.5 * plan.duration_s / max(outcome.wall_s, 1e-3))
        plan = replace(plan, expected=plan.expected * grow if plan.scenario == "Offline" else plan.expected / grow)
        outcome = run_test(sut, plan, model, outdir)
        s = read_summary(outdir / "mlperf_log_summary.txt")
    reasons = list(s["reasons"])
    if outcome.failed:
        top = ", ".join(f"{k} (x{v})" for k, v in outcome.failures.most_common(2))
        reasons.append(f"{outcome.failed} samples failed: {top}")
    after = stats() if before else None
    server_batch = (after[0] - before[0]) / (after[1] - before[1]) if after and after[1] > before[1] else None
    return {"summary": s, "valid": bool(s["valid"]) and not outcome.failed, "reasons": reasons,
            "target_qps": plan.target_qps or None, "mean_batch": outcome.mean_batch, "calls": outcome.calls,
            "server_mean_batch": server_batch,
            "failed": outcome.failed, "wall_s": outcome.wall_s, "dir": str(outdir)}


def search_server(sut, plan: Plan, model: str, folder: Path, start: float, upper: float, steps: int):
    """Highest target QPS LoadGen calls VALID (p99 within the bound): double until INVALID, then bisect.

    `upper`: the back end's measured throughput, which no Server rate can beat; the search never
    schedules more than 1.25x of it. Returns (best VALID trial or None, all trials)."""
    search_dir = folder / "search"
    shutil.rmtree(search_dir, ignore_errors=True)
    lo, hi, best, trials = 0.0, None, None, []
    q = start  # a --target-qps given is tried as given, even above the calibrated throughput
    for k in range(steps):
        t = _trial(sut, replace(plan, target_qps=q), model, search_dir / f"{k + 1:02d}-qps-{q:.6g}")
        trials.append(t)
        if t["valid"]:
            lo, best = q, t
        else:
            hi = q
            last = trials[-2:]
            p99s = [x["summary"]["latency_ms"].get("p99") or 0 for x in last]
            if not lo and len(last) == 2 and not any(_overloaded(x) for x in last) and p99s[1] >= 0.7 * p99s[0] \
                    and p99s[1] > plan.latency_bound_s * 1e3:
                # Not overloaded, and halving the load did not bring p99 down: requests are slow even
                # alone, so no lower rate can meet the bound, and each lower rate only takes longer to test.
                t["reasons"].append(f"p99 stays at {p99s[1]:.3g} ms even at {q:.4g} QPS: one request alone takes "
                                    f"longer than the bound allows")
                break
        if hi is None:
            if q >= upper * 1.25:
                break  # VALID at more than the back end's measured throughput: nothing higher to find
            q = min(q * 2, upper * 1.25)
        else:
            q = (lo + hi) / 2 if lo else hi / 2
            if lo and (hi - lo) / hi < 0.05:
                break
    return best, trials


def _overloaded(t: dict) -> bool:
    """The back end fell behind the schedule: it completed clearly fewer queries per second than arrived."""
    v = t["summary"]["values"]
    done, scheduled = v.get("Completed samples per second"), v.get("Scheduled samples per second")
    return isinstance(done, float) and isinstance(scheduled, float) and done < 0.95 * scheduled


def _copy_logs(src: Path, dst: Path) -> None:
    for old in dst.glob("mlperf_log_*"):
        old.unlink()
    for f in src.glob("mlperf_log_*"):
        shutil.copy2(f, dst / f.name)


# --- the command ------------------------------------------------------------------------------------

def run_infer(run_dir: str | Path, o: InferOptions) -> dict:
    run_dir = Path(run_dir)
    scenario = _check(run_dir, o)
    import torch

    if o.threads:
        torch.set_num_threads(o.threads)
    from dlbench.bench.infer.backends import InProcess
    from dlbench.bench.infer.http_backend import Http, read_api_key
    from dlbench.bench.infer.samples import load_samples

    predictor = _predictor(run_dir, o.device)
    samples = load_samples(run_dir, predictor)
    if o.accuracy and not samples.scored:
        samples.score({})  # raises: what accuracy mode cannot do for this family
    model = run_dir.resolve().name
    if o.url:
        backend = Http(o.url, o.model_name or model, read_api_key(o.api_key_file), samples, o.concurrency,
                       o.http_encoding)
    else:
        backend = InProcess(predictor, samples)
    rows, workers = _shape(backend.kind, scenario, o)
    name = next(k for k, v in SCENARIOS.items() if v == scenario)
    folder = Path(o.out) / o.system / model / name
    logdir = folder / "accuracy" if o.accuracy else folder
    try:
        sut = Sut(backend, samples, rows, workers)
        expected = _calibrate(backend, samples, scenario, rows, workers)
        plan = Plan(scenario, accuracy=o.accuracy, full=o.full, duration_s=o.duration_s, expected=expected,
                    latency_bound_s=o.latency_bound_ms / 1000)
        trials = []
        if scenario == "Server" and not o.accuracy:
            # Bracket: the rate one sample at a time sustains (batching can only add to it), up to the
            # throughput the back end sustains with these workers (no arrival rate can beat it).
            start = o.target_qps or min(1.0 / _latency(backend, samples.n, 1), expected)
            best, trials = search_server(sut, plan, model, folder, start, expected, o.search_steps)
            result = best or trials[-1]
            _copy_logs(Path(result["dir"]), folder)
            if best is None:
                result = {**result, "reasons": result["reasons"] + [
                    f"no target QPS met the p99 bound of {o.latency_bound_ms:g} ms (lowest tried: "
                    f"{min(t['target_qps'] for t in trials):.4g})"
                    + ("; over HTTP a lone request also waits the server's batching delay (serve's "
                       "max_batch_delay_ms)" if backend.kind == "http" else "")]}
        else:
            qps = o.target_qps or expected / 2
            result = _trial(sut, replace(plan, target_qps=qps), model, logdir)
    finally:
        backend.close()
    doc = _document(run_dir, model, o, scenario, name, backend, samples, rows, workers, expected, result, trials, logdir)
    if o.accuracy:
        acc = doc["accuracy"] = _accuracy(run_dir, samples, logdir, o.device)
        # Accuracy mode has no LoadGen verdict: it is VALID when every sample was answered and scored
        # as `dlbench evaluate` scores the run (a different score: the back end is not this model).
        doc["valid"] = acc["matches_evaluate"] is not False and not result["failed"]
        doc["verdict"] = "VALID" if doc["valid"] else "INVALID"
        if acc["matches_evaluate"] is False:
            diff = ", ".join(f"{k} {acc['metrics'][k]:.6g} vs {v:.6g}" for k, v in acc["evaluate"].items())
            doc["reasons"] = doc["reasons"] + [f"the score differs from `dlbench evaluate` on the test split ({diff})"]
    if o.advice and not o.accuracy:
        from dlbench.bench.infer.sizing import advise

        doc["advice"] = advise(run_dir, predictor, samples, doc, o)
    from dlbench.bench.infer.records import record_inference
    from dlbench.bench.sysinfo import collect_inventory

    db = Path(o.db) if o.db else Path(o.out) / "dlbench.sqlite"
    doc["db"] = str(db)
    doc["id"] = record_inference(db, doc, collect_inventory())
    (logdir / RESULT_FILE).write_text(json.dumps(doc, indent=1, default=str))
    return doc


def _predictor(run_dir: Path, device: str | None):
    """The run as the server serves it, through its recipe (`serve.runs.load_predictor`)."""
    from dlbench.serve.runs import load_predictor

    return load_predictor(run_dir, device=device)


def _document(run_dir, model, o, scenario, name, backend, samples, rows, workers, expected, result, trials, logdir):
    s = result["summary"]
    lat = s["latency_ms"]
    figure = {"SingleStream": ("p90 latency", lat.get("p90"), "ms"),
              "MultiStream": ("p99 latency (8-sample queries)", lat.get("p99"), "ms"),
              "Server": ("max QPS within the p99 bound", (s["headline"] if result["valid"] else None), "queries/s"),
              "Offline": ("throughput", s["headline"], "samples/s")}[scenario]
    mean_s = lat.get("mean", 0) / 1000 if lat.get("mean") else None
    per_query = 8 if scenario == "MultiStream" else 1
    sps = {"Offline": s["headline"], "Server": s["headline"]}.get(scenario) or (
        per_query / mean_s if mean_s else None)
    min_full_s = _loadgen_min_duration_s(scenario)
    doc = {
        "model": model, "run_dir": str(run_dir), "task": samples.family, "scenario": name, "loadgen_scenario": scenario,
        "mode": "accuracy" if o.accuracy else "performance", "backend": backend.kind, "backend_detail": backend.describe(),
        "device": getattr(backend, "device", None) or "server", "system": o.system, "full": o.full,
        "valid": result["valid"], "verdict": "VALID" if result["valid"] else "INVALID", "reasons": result["reasons"],
        "recommendations": s["recommendations"], "early_stopping": s["early_stopping"],
        "metric": figure[0], "value": figure[1], "unit": figure[2], "samples_per_s": sps,
        "latency_ms": lat, "latency_bound_ms": o.latency_bound_ms if scenario == "Server" else None,
        "target_qps": result.get("target_qps"), "rows_per_call": rows, "workers": workers,
        "mean_batch": result["mean_batch"], "server_mean_batch": result.get("server_mean_batch"),
        "failed_samples": result["failed"], "calibration": expected,
        "duration_s": o.duration_s if not o.full else min_full_s, "wall_s": result["wall_s"],
        "results_dir": str(logdir), "search": [{k: t[k] for k in ("target_qps", "valid", "reasons", "mean_batch",
                                                                  "server_mean_batch", "dir")}
                                               | {"p99_ms": t["summary"]["latency_ms"].get("p99"),
                                                  "completed_qps": t["summary"]["headline"]} for t in trials],
        "settings": asdict(o) | {"sweep": list(o.sweep)},
    }
    if not o.full and not o.accuracy:
        doc["note"] = (f"short run: {o.duration_s:g} s per LoadGen test, below LoadGen's minimum duration of "
                       f"{min_full_s:g} s; figures are indicative, measure with --full")
    return doc


def _loadgen_min_duration_s(scenario: str) -> float:
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    s.FromConfig("", "dlbench", scenario, 0)
    return s.min_duration_ms / 1000


def _accuracy(run_dir: Path, samples, logdir: Path, device) -> dict:
    """Score LoadGen's accuracy log with the model's metric; compare with `dlbench evaluate` on the test split."""
    from dlbench.api import evaluate

    logged = read_accuracy_log(logdir / "mlperf_log_accuracy.json")
    scores = samples.score(logged)
    ev = evaluate(run_dir, "test", device, opened_by="dlbench bench infer --accuracy")
    shared = [k for k, v in scores.items() if isinstance(v, float) and isinstance(ev.get(k), (int, float))]
    diffs = {k: abs(scores[k] - float(ev[k])) for k in shared}
    match = all(math.isclose(scores[k], float(ev[k]), rel_tol=1e-5, abs_tol=1e-9) for k in shared) if shared else None
    return {"metrics": scores, "evaluate": {k: ev[k] for k in shared}, "abs_diff": diffs, "matches_evaluate": match,
            "samples_logged": len(logged), "samples": samples.n}
