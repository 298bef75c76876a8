"""Multi-device time-to-train: benchmark runs under torchrun, and scaling sweeps over device counts.

    dlbench bench run mnist1d-cnn --runs 5 --scaling 1,2,4,8

For each device count n, `run_benchmark_distributed` runs the benchmark's N seeds, each through
`training.launch.launch_distributed` on n processes (GPUs, or CPU processes with an equal share of
the cores). The MLPerf observer lives in rank 0 (`timed_run_observer`, named on the worker's command
line): it writes that run's result file with the harness's own `TimedRun`, so the clock rules are
the single-device ones. The parent then checks, scores and stores the session as the harness does
(device_count = n). Strong scaling: the benchmark fixes the global batch, so the per-device batch
shrinks with n and the learning rate is unchanged (both are recorded).

Results: result files under OUT/<system>-x<n>/<benchmark>/ (one MLPerf "system" per device count),
sessions in OUT/dlbench.sqlite under <system> with device_count n (so `bench compare` computes speedup
and efficiency), and OUT/scaling-<benchmark>-<system>.json / .png (speedup against ideal).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from dlbench.errors import UserError

OBSERVER = "dlbench.bench.scaling:timed_run_observer"


def parse_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(c) for c in str(text).split(",") if c.strip()})
    except ValueError:
        raise UserError(f"--scaling '{text}' is not a list of device counts", "e.g. --scaling 1,2,4,8") from None
    if not counts or counts[0] < 1:
        raise UserError(f"--scaling '{text}': device counts must be >= 1")
    return counts


# --- rank side: the benchmark observer inside the distributed job -----------------------------

class _Follower:
    """Ranks > 0: no log; the stop decision is rank 0's (training.loop broadcasts it)."""

    def run_start(self):
        pass

    def eval_start(self, step):
        pass

    def eval_stop(self, step, metrics):
        return False

    def close(self):
        pass


class _RankZeroRun:
    def __init__(self, timed, logger):
        self.timed, self.logger = timed, logger

    def run_start(self):
        self.timed.run_start()

    def eval_start(self, step):
        self.timed.eval_start(step)

    def eval_stop(self, step, metrics):
        return self.timed.eval_stop(step, metrics)

    def close(self):
        self.timed.abort()  # no-op after run_stop; otherwise the run did not converge (diverged, failed)
        self.logger.close()


def timed_run_observer(dist, *, result_file: str, bench: dict, org: str, division: str, platform: str,
                       status: str, init_start_ms: float, init_cap_s: float, max_steps: int, seed: int,
                       hyper: dict, train_samples: int, eval_samples: int):
    """Worker-side factory (see worker --observer): rank 0 writes the MLPerf log of this run."""
    if not dist.is_main:
        return _Follower()
    from dlbench.bench.clock import Clock, TimedRun
    from dlbench.bench.live import RunLine
    from dlbench.bench.mllog import MLPerfRunLogger
    from dlbench.bench.suite import Benchmark

    b = Benchmark.model_validate(bench)
    clock = Clock(dist.device)
    lg = MLPerfRunLogger(result_file, b.name, org=org, division=division, platform=platform, status=status)
    # initialization began when the launcher started the job (process start-up is init, as MLPerf counts it)
    lg.cache_clear(time_ms=init_start_ms)
    lg.init_start(time_ms=init_start_ms)
    lg.submission_info(time_ms=init_start_ms)
    t = clock.now_ms()
    lg.hyperparameters(seed=seed, time_ms=t, **hyper)
    lg.train_samples(train_samples, time_ms=t)
    lg.eval_samples(eval_samples, time_ms=t)
    timed = TimedRun(lg, b, clock, init_start_ms, init_cap_s, max_steps, RunLine(1, "", enabled=False))
    return _RankZeroRun(timed, lg)


# --- parent side: N runs on n devices -----------------------------------------------------------

def _read_run(path: Path, bench, init_cap_s: float) -> dict:
    """What the harness records per run, read back from the result file rank 0 wrote."""
    from dlbench.bench.layout import read_log

    recs = read_log(path) if path.is_file() else []
    t = {r["key"]: r for r in recs}
    status = (t.get("run_stop", {}).get("metadata") or {}).get("status", "aborted")
    init_s = (t["init_stop"]["time_ms"] - t["init_start"]["time_ms"]) / 1e3 if "init_stop" in t and "init_start" in t else None
    evals = [r for r in recs if r.get("key") == "eval_accuracy"]
    samples = int(evals[-1]["metadata"]["epoch_num"]) if evals else 0
    value = evals[-1]["value"] / bench.quality.scale if evals else None
    return {"status": status, "init_s": init_s, "init_over_cap": bool(init_s and init_s > init_cap_s),
            "steps": samples // bench.global_batch_size, "samples": samples, "final_metric": value}


def run_benchmark_distributed(bench, runs: int | None = None, *, system: str = "local", out="results", db=None,
                              seed: int = 0, world_size: int = 2, org: str = "dlbench", status: str = "onprem",
                              init_cap_s: float = 300.0, overrides: list[str] | None = None,
                              max_steps: int | None = None, keep_runs=None, progress: bool = True,
                              overwrite: bool = False, dist_timeout: float = 300.0):
    """bench.harness.run_benchmark for world_size processes per run (same arguments, same result)."""
    import time

    from dlbench.api import _as_config
    from dlbench.bench import harness as H
    from dlbench.bench.clock import Clock
    from dlbench.bench.live import RunLine
    from dlbench.bench.store import DEFAULT_DB
    from dlbench.bench.sysinfo import collect_inventory
    from dlbench.bench.system_desc import system_description
    from dlbench.data import build_data
    from dlbench.training.device import pick_device
    from dlbench.training.distributed import effective_lr
    from dlbench.launch.torchrun import launch_distributed

    n, extra, division = H.checked_request(bench, runs, overrides)
    out = Path(out)
    db = Path(db) if db else out / DEFAULT_DB.name
    steps = max_steps or bench.max_steps
    base = [*bench.reference_overrides(steps), *extra]
    cfg0 = _as_config(bench.config, [*base, f"train.seed={seed}"])
    device = pick_device(cfg0.train.device)
    folder = f"{system}-x{world_size}"  # result files of each device count in their own MLPerf system folder
    bench_dir = H._prepare_out(out, folder, bench, overwrite)
    inventory = collect_inventory(str(out))
    description = system_description(inventory, folder, submitter=org, division=division, status=status)
    if device.type == "cuda":
        description["accelerators_per_node"] = str(world_size)
    (out / "systems").mkdir(exist_ok=True)
    (out / "systems" / f"{folder}.json").write_text(json.dumps(description, indent=1))
    if bench.custom:
        from dataclasses import asdict

        (out / "benchmarks").mkdir(exist_ok=True)
        d = bench.definition()
        (out / "benchmarks" / f"{bench.name}.json").write_text(json.dumps(
            {**asdict(d), "benchmark": bench.model_dump()}, indent=1))
    platform = H._platform(device, inventory, world_size)
    bundle = build_data(cfg0.data)
    sizes = (len(bundle.train), len(bundle.val))
    del bundle
    line = RunLine(n, f"{bench.quality.op} {bench.quality.target:g} on {world_size} devices", enabled=progress)
    clock = Clock(device)
    records = []
    for i in range(n):
        run_seed = seed + i
        cfg = _as_config(bench.config, [*base, f"train.seed={run_seed}"])
        hyper = {"global_batch_size": cfg.train.batch_size, "opt_name": cfg.optim.name,
                 "opt_base_learning_rate": effective_lr(cfg.train, cfg.optim.lr),
                 "opt_weight_decay": cfg.optim.weight_decay,
                 "opt_learning_rate_warmup_steps": cfg.optim.warmup_steps, "max_steps": steps}
        path = bench_dir / f"result_{i}.txt"
        args = {"result_file": str(path), "bench": bench.model_dump(mode="json"), "org": org, "division": division,
                "platform": platform, "status": status, "init_start_ms": clock.now_ms(), "init_cap_s": init_cap_s,
                "max_steps": steps, "seed": run_seed, "hyper": hyper, "train_samples": sizes[0],
                "eval_samples": sizes[1]}
        line.start(i, run_seed, steps)
        with tempfile.TemporaryDirectory(prefix="dlbench-bench-") as tmp:
            run_dir = Path(tmp) / "run"
            t0 = time.perf_counter()
            code = launch_distributed(bench.config, [*base, f"train.seed={run_seed}"], str(run_dir), False, True,
                                      world_size, dist_timeout=dist_timeout, observer=OBSERVER,
                                      observer_args=json.dumps(args), evaluate_test=False)
            result = run_dir / "result.json"
            tput = json.loads(result.read_text())["training"].get("samples_per_second") if result.is_file() else None
            if keep_runs and run_dir.is_dir():
                dest = Path(keep_runs) / folder / bench.name / f"run_{i}"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(run_dir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("checkpoints"))
        r = _read_run(path, bench, init_cap_s)
        line.stop(r["status"])
        error = "" if code == 0 else f"distributed run exited with code {code} after {time.perf_counter() - t0:.0f}s"
        records.append(H.RunRecord(i, run_seed, str(path), r["status"], r["init_s"], r["init_over_cap"], r["steps"],
                                   r["samples"], r["final_metric"], tput, error=error))
    return H._finish(bench, records, system, device, world_size, division, out, db, inventory, description,
                     init_cap_s)


# --- the sweep --------------------------------------------------------------------------------

def _time(res) -> tuple[float | None, bool]:
    """(seconds, is_score): the olympic mean when the runs allow one, else the median of converged runs."""
    if res.score.get("valid") and res.score.get("olympic_mean_s"):
        return res.score["olympic_mean_s"], True
    times = [r.time_to_train_s for r in res.runs if r.passed_check and r.time_to_train_s]
    return (statistics.median(times), False) if times else (None, False)


def scaling_points(results: list, cfg) -> list[dict]:
    """Speedup and efficiency of each device count against the smallest one (ideally 1)."""
    from dlbench.training.distributed import effective_lr

    pts = []
    for res in results:
        t, scored = _time(res)
        pts.append({"devices": res.device_count, "time_to_train_s": t, "olympic_mean": scored,
                    "train_samples_per_s": res.train_samples_per_s, "samples_per_s_to_target": res.samples_per_s,
                    "runs": len(res.runs), "converged": sum(r.passed_check for r in res.runs),
                    "global_batch_size": cfg.train.batch_size,
                    "per_device_batch_size": cfg.train.batch_size / res.device_count,
                    "lr": effective_lr(cfg.train, cfg.optim.lr), "session_id": res.session_id,
                    "result_files": [r.result_file for r in res.runs]})
    b = pts[0]
    for p in pts:
        k = p["devices"] / b["devices"]
        p["speedup"] = b["time_to_train_s"] / p["time_to_train_s"] if b["time_to_train_s"] and p["time_to_train_s"] else None
        p["efficiency"] = p["speedup"] / k if p["speedup"] else None
        tb, tp = b["train_samples_per_s"], p["train_samples_per_s"]
        p["throughput_speedup"] = tp / tb if tb and tp else None
        p["throughput_efficiency"] = p["throughput_speedup"] / k if p["throughput_speedup"] else None
    return pts


def scaling_chart(points: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    base = points[0]["devices"]
    xs = [p["devices"] for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, [x / base for x in xs], "k--", label="ideal (linear)")
    tt = [(p["devices"], p["speedup"]) for p in points if p["speedup"]]
    if tt:
        ax.plot(*zip(*tt), "o-", color="#4c72b0", label="time-to-train speedup")
        for x, s in tt:
            ax.annotate(f"{s / (x / base):.0%}", (x, s), textcoords="offset points", xytext=(4, -12), fontsize=8)
    th = [(p["devices"], p["throughput_speedup"]) for p in points if p["throughput_speedup"]]
    if th:
        ax.plot(*zip(*th), "s:", color="#dd8452", label="throughput speedup (training steps)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("devices")
    ax.set_ylabel(f"speedup vs {base} device{'s' if base > 1 else ''}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_scaling(bench, counts, runs: int | None = None, *, system: str = "local", out="results",
                overwrite: bool = False, **kw) -> dict:
    """One distributed benchmark session per device count; JSON + PNG of speedup and efficiency."""
    from dlbench.api import _as_config
    from dlbench.training.device import pick_device
    from dlbench.launch.torchrun import check_nproc, usable_cpus

    counts = parse_counts(counts) if isinstance(counts, str) else sorted(set(counts))
    steps = kw.get("max_steps") or bench.max_steps
    cfg = _as_config(bench.config, [*bench.reference_overrides(steps), *(kw.get("overrides") or [])])
    check_nproc(counts[-1], cfg.train.device)  # before any run: the largest count must fit this node
    out = Path(out)
    env_threads = os.environ.get("OMP_NUM_THREADS")
    if pick_device(cfg.train.device).type == "cpu" and env_threads is None:
        # a CPU "device" is a process with a fixed share of the cores, the same at every count
        os.environ["OMP_NUM_THREADS"] = str(max(1, usable_cpus() // counts[-1]))
    try:
        results = [run_benchmark_distributed(bench, runs, system=system, out=out, world_size=n, overwrite=overwrite,
                                             **kw) for n in counts]
    finally:
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
    points = scaling_points(results, cfg)
    doc = {"benchmark": bench.name, "system": system, "mode": "strong (fixed global batch)",
           "device": results[0].device, "baseline_devices": counts[0], "points": points,
           "note": "time_to_train_s is the olympic mean where the runs allow one (>= 3), else the median"}
    stem = out / f"scaling-{bench.name}-{system}"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    scaling_chart(points, stem.with_suffix(".png"), f"{bench.name} on {system}: speedup vs devices")
    doc["json"], doc["png"] = str(stem.with_suffix(".json")), str(stem.with_suffix(".png"))
    return doc


def scaling_table(doc: dict):
    from rich.table import Table

    f = lambda v, p="{:.2f}": "-" if v is None else p.format(v)  # noqa: E731
    t = Table(title=f"scaling of {doc['benchmark']} on {doc['system']} ({doc['mode']})")
    for c in ("devices", "global batch", "per device", "lr", "time to train [s]", "speedup", "efficiency",
              "train samples/s", "throughput speedup", "converged"):
        t.add_column(c, justify="right")
    for p in doc["points"]:
        t.add_row(str(p["devices"]), str(p["global_batch_size"]), f(p["per_device_batch_size"], "{:g}"),
                  f(p["lr"], "{:g}"), f(p["time_to_train_s"], "{:.3f}") + ("" if p["olympic_mean"] else "*"),
                  f(p["speedup"], "{:.2f}x"), f(p["efficiency"], "{:.0%}"), f(p["train_samples_per_s"], "{:.0f}"),
                  f(p["throughput_speedup"], "{:.2f}x"), f"{p['converged']}/{p['runs']}")
    t.caption = "* median of converged runs (fewer than 3: no olympic mean)"
    return t
