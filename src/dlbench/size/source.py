"""What `dlbench size` sizes: a config, a benchmark name, a finished run, or a benchmark results folder.

Each gives a config (the model and step that are measured) and the amount of work: the samples until
the target. A results folder and a run MEASURED that amount (samples logged at the eval that reached the
target; steps the run took); a config or a benchmark name only bounds it (its step budget), and says so.
A results folder may also hold measured time-to-train on this machine and `bench run --scaling` sweeps.
"""
from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from dlbench.errors import UserError
from dlbench.size.model import Q, Scaling

SWEEP = re.compile(r"-x(\d+)$")


@dataclass
class Source:
    kind: str  # config | benchmark | run | results
    label: str
    cfg: object
    samples: Q
    evals: int
    measured_time: Q | None = None
    """Time-to-train measured on this machine (results folder or run), to compare with the prediction."""
    scaling: Scaling | None = None
    device_count: int = 1


def _evals(cfg, steps: float) -> int:
    from dlbench.training.loop import eval_cadence

    return max(1, int(steps // eval_cadence(cfg.train, int(steps))))


def _from_config(cfg, label: str, kind: str, why: str) -> Source:
    from dlbench.training.loop import total_steps

    steps = cfg.train.steps
    if steps is None:
        from dlbench.data import build_data

        steps = total_steps(cfg.train, len(build_data(cfg.data).train), cfg.train.batch_size)
    es = " (an upper bound: early stopping may end sooner)" if getattr(cfg.train, "early_stopping", None) else ""
    return Source(kind, label, cfg, Q(float(steps * cfg.train.batch_size), "samples",
                                      f"{why}: {steps} steps x batch {cfg.train.batch_size}{es}"), _evals(cfg, steps))


def _run_dir(path: Path, overrides: list[str]) -> Source:
    from dlbench.schema import load_config

    cfg = load_config(path / "config.yaml", overrides)
    result = path / "result.json"
    if not result.is_file():
        return _from_config(cfg, str(path), "run", f"run {path.name} has no result.json yet; its config")
    try:
        doc = json.loads(result.read_text())
        steps = int(doc["training"]["steps"])
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{result}: not a dlbench result (no training.steps)", "pass a finished run directory") from None
    batch = cfg.train.batch_size
    t = (doc.get("timing") or {}).get("train_seconds")
    return Source("run", str(path), cfg, Q(float(steps * batch), "samples", f"measured: run {path.name} took {steps} "
                                           f"steps x batch {batch}"), _evals(cfg, steps),
                  measured_time=Q(t, "s", "measured: train_seconds of the run") if t else None,
                  device_count=int((doc.get("training") or {}).get("world_size") or 1))


def _benchmark_of(root: Path, name: str):
    from dlbench.bench.suite import Benchmark, suite

    if name in suite():
        return suite()[name]
    f = root / "benchmarks" / f"{name}.json"
    try:
        return Benchmark.model_validate(json.loads(f.read_text())["benchmark"])
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{root}: benchmark folder '{name}' has no definition ({e})",
                        "size from the config instead") from None


def _results(root: Path, benchmark: str | None, overrides: list[str]) -> Source:
    from dlbench.api import _as_config
    from dlbench.bench.layout import list_result_files, read_log
    from dlbench.bench.score import score_runs

    files = list_result_files(root)
    names = sorted({b for _, b, _ in files})
    if not names:
        raise UserError(f"{root}: no result files", "run `dlbench bench run NAME` first")
    if benchmark is None and len(names) > 1:
        raise UserError(f"{root} holds several benchmarks ({', '.join(names)})", "pick one with --benchmark NAME")
    name = benchmark or names[0]
    if name not in names:
        raise UserError(f"no results of benchmark '{name}' in {root}", f"it holds: {', '.join(names)}")
    bench = _benchmark_of(root, name)
    per_count: dict[int, list[tuple[float, bool, int | None]]] = {}
    for path, b, _ in files:
        if b != name:
            continue
        recs = read_log(path)
        t = {r["key"]: r for r in recs if r.get("key") in ("run_start", "run_stop")}
        evals = [r for r in recs if r.get("key") == "eval_accuracy"]
        ok = "run_stop" in t and (t["run_stop"].get("metadata") or {}).get("status") == "success"
        secs = (t["run_stop"]["time_ms"] - t["run_start"]["time_ms"]) / 1e3 if len(t) == 2 else 0.0
        samples = int((evals[-1].get("metadata") or {}).get("epoch_num") or 0) if evals else None
        m = SWEEP.search(path.parent.parent.name)
        per_count.setdefault(int(m.group(1)) if m else 1, []).append((secs, ok, samples if ok else None))
    n0 = min(per_count)
    runs = per_count[n0]
    conv = [s for _, ok, s in runs if ok and s]
    cfg = _as_config(bench.config, [*bench.reference_overrides(), *overrides])
    if not conv:
        src = _from_config(cfg, f"{root} ({name})", "results", f"no run of {name} converged; the step budget")
    else:
        samples = statistics.median(conv)
        steps = samples / bench.global_batch_size
        src = Source("results", f"{root} ({name})", cfg,
                     Q(float(samples), "samples", f"measured: median samples to the target over {len(conv)} converged "
                       f"runs of {name} ({int(steps)} steps x batch {bench.global_batch_size})"), _evals(cfg, steps))
    sc = score_runs([(s, ok) for s, ok, _ in runs], min_runs=bench.min_runs)
    t = sc.olympic_mean_s if sc.olympic_mean_s is not None else sc.median_s
    if t:
        how = "olympic mean" if sc.olympic_mean_s is not None else "median of converged runs"
        src.measured_time = Q(t, "s", f"measured: {how} of {sc.n_converged}/{sc.n_runs} runs on {n0} device(s)")
    src.device_count = n0
    src.scaling = _scaling(root, name, per_count, bench.min_runs)
    return src


def _scaling(root: Path, name: str, per_count: dict, min_runs: int) -> Scaling | None:
    """Measured efficiency per device count: scaling-<name>-*.json of `bench run --scaling`, else the
    result folders of several device counts."""
    from dlbench.bench.score import score_runs

    for f in sorted(root.glob(f"scaling-{name}-*.json")):
        try:
            doc = json.loads(f.read_text())
            pts = {int(p["devices"]): float(p["efficiency"]) for p in doc["points"] if p.get("efficiency")}
        except (ValueError, KeyError, TypeError):
            continue
        if len(pts) > 1:
            kind = "gpu" if str(doc.get("device", "")).startswith("cuda") else "cpu"
            return Scaling(kind, pts, f"measured: {f.name} (bench run --scaling on {doc.get('device')})")
    if len(per_count) < 2:
        return None
    times = {}
    for n, runs in per_count.items():
        sc = score_runs([(s, ok) for s, ok, _ in runs], min_runs=min_runs)
        t = sc.olympic_mean_s or sc.median_s
        if t:
            times[n] = t
    if len(times) < 2:
        return None
    n0 = min(times)
    pts = {n: times[n0] / times[n] / (n / n0) for n in times}
    return Scaling("cpu", pts, f"measured: time-to-train of {name} at {sorted(times)} devices in {root}")


def resolve(source: str, benchmark: str | None = None, overrides: list[str] | None = None) -> Source:
    """overrides (dotted key=value) change the config that is measured; work measured by a run or results
    folder stays as measured."""
    from dlbench.bench.suite import suite

    overrides = list(overrides or [])
    p = Path(source)
    if p.is_dir():
        if (p / "config.yaml").is_file():
            return _run_dir(p, overrides)
        return _results(p, benchmark, overrides)
    if p.exists() and not p.is_file():
        raise UserError(f"{source}: not a file or folder")
    if not p.exists() and source in suite():
        from dlbench.api import _as_config

        b = suite()[source]
        cfg = _as_config(b.config, [*b.reference_overrides(), *overrides])
        s = _from_config(cfg, source, "benchmark", f"benchmark {source}'s step budget (an upper bound: size from "
                         f"the results of `dlbench bench run {source}` for the measured steps to converge)")
        return s
    if source.endswith((".yaml", ".yml")) and not p.is_file():
        from dlbench.config.load import SHIPPED_DIR

        if not (SHIPPED_DIR / p.name).is_file():
            raise UserError(f"{source}: no such file", "pass a config YAML, a shipped config or benchmark name, "
                            "a run directory or a results folder")
    from dlbench.api import _as_config

    cfg = _as_config(source, overrides)
    return _from_config(cfg, source, "config", "the config's length")
