"""The report of a benchmark results folder: results/<system>/<benchmark>/result_<i>.txt.

Time-to-train is read from each MLPerf log (run_start to run_stop), every file's compliance verdict
comes from the real MLPerf checker (dlbench.bench.check), scores use MLPerf's olympic mean
(dlbench.bench.score). System descriptions (systems/<system>.json), the SQLite results store and
profiler output are optional: each section renders what is there and names what is not.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dlbench.errors import UserError
from dlbench.report import benchextra, figures as F
from dlbench.report.sizing import sizing_section
from dlbench.report.document import Absent, Facts, Report, Section, Table, Text, fmt, seconds

RESULT = re.compile(r"result_(\d+)\.txt")
RESERVED = {"systems", "benchmarks", "profiles"}
SWEEP = re.compile(r"-x(\d+)$")


@dataclass
class Result:
    path: Path
    system: str
    benchmark: str
    start_ms: float | None = None
    stop_ms: float | None = None
    status: str | None = None
    platform: str | None = None
    accuracies: list[float] = field(default_factory=list)
    passed: bool | None = None
    """The compliance checker's verdict; None when it could not be run."""
    reason: str = ""

    @property
    def seconds(self) -> float | None:
        return (self.stop_ms - self.start_ms) / 1000 if self.start_ms is not None and self.stop_ms is not None else None

    @property
    def converged(self) -> bool:
        return bool(self.passed) and self.status == "success" and self.seconds is not None


def find_results(root: Path) -> list[tuple[Path, str, str]]:
    out = []
    for system in sorted(d for d in root.iterdir() if d.is_dir() and d.name not in RESERVED):
        for bench in sorted(d for d in system.iterdir() if d.is_dir()):
            for f in bench.iterdir():
                m = RESULT.fullmatch(f.name)
                if m and f.is_file():
                    out.append((f, system.name, bench.name))
    return sorted(out, key=lambda t: (t[1], t[2], int(RESULT.fullmatch(t[0].name).group(1))))


def results_root(path: Path) -> Path | None:
    """`path` itself when it holds <system>/<benchmark>/result_<i>.txt, or its results/ subfolder."""
    for cand in (path, path / "results"):
        if cand.is_dir() and find_results(cand):
            return cand
    return None


def is_results_dir(path: Path) -> bool:
    return results_root(path) is not None


def parse(path: Path, system: str, benchmark: str) -> Result:
    r = Result(path, system, benchmark)
    for line in path.read_text(errors="replace").splitlines():
        _, sep, payload = line.partition(":::MLLOG ")
        if not sep:
            continue
        try:
            ev = json.loads(payload)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: the checker will report the file
        key, t = ev.get("key"), ev.get("time_ms")
        if key == "run_start":
            r.start_ms = t
        elif key == "run_stop":
            r.stop_ms, r.status = t, (ev.get("metadata") or {}).get("status")
        elif key == "submission_platform":
            r.platform = ev.get("value")
        elif key == "eval_accuracy" and isinstance(ev.get("value"), (int, float)):
            r.accuracies.append(float(ev["value"]))
    return r


def _check(root: Path, r: Result) -> None:
    try:
        from dlbench.bench import check
    except ImportError as e:
        r.reason = f"compliance checker unavailable ({e})"
        return
    try:
        custom = None
        if r.benchmark not in getattr(check, "DEFINITIONS", {}):
            # a custom (open division) benchmark: its definition lies in results/benchmarks/<name>.json
            try:
                from dlbench.bench.layout import custom_definition
            except ImportError:
                custom_definition = getattr(check, "custom_definition", lambda root, name: None)
            custom = custom_definition(root, r.benchmark)
        v = check.check_result_file(r.path, r.benchmark, custom) if custom else check.check_result_file(r.path, r.benchmark)
        r.passed, r.reason = v.passed, v.reason
    except UserError as e:
        r.reason = f"not checked: {e.line()}"


def build(path: str | Path, profiles: list[str | Path] | None = None) -> Report:
    p = Path(path)
    root = results_root(p) if p.is_dir() else None
    if root is None:
        raise UserError(f"{p}: not a benchmark results folder (no <system>/<benchmark>/result_<i>.txt inside)",
                        "pass the results/ folder written by `dlbench bench`")
    results = [parse(*t) for t in find_results(root)]
    # one checker subprocess per file; a few in parallel keep a large folder quick
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda r: _check(root, r), results))
    systems = benchextra.load_systems(root)
    # the store knows each session's device count (a scaling sweep on one machine); it overrides systems/*.json
    for (system, bench), n in benchextra.store_device_counts(root).items():
        systems.setdefault(system, {}).setdefault("_device_count", {})[bench] = n
    report = Report(title=f"Benchmark results: {root.name}/", kind="benchmark", source=str(root))
    report.sections += [_summary(results, systems), _time_to_train(results, systems), _scaling(root, results, systems),
                        benchextra.sizing(root, [Path(f) for f in profiles or []]), sizing_section(root),
                        _compliance(results), benchextra.systems_section(systems),
                        benchextra.store_section(root)]
    return report


def devices(r: Result, systems: dict) -> tuple[int, str]:
    """(device count, accelerator): the store's device_count, else systems/<system>.json, else the
    submission platform 'NxNAME' of the log. A description with 0 accelerators is a CPU system."""
    d = systems.get(r.system) or {}
    sweep = SWEEP.search(r.system)  # `bench run --scaling` writes one <system>-x<n> folder per device count
    try:
        per_node, nodes = int(d.get("accelerators_per_node") or 0), max(1, int(d.get("number_of_nodes") or 1))
    except (TypeError, ValueError):
        per_node, nodes = 0, 1
    acc = d.get("accelerator_model_name") if per_node else ("CPU" if "accelerators_per_node" in d else None)
    stored = int(sweep.group(1)) if sweep else (d.get("_device_count") or {}).get(r.benchmark)
    if stored:
        return int(stored), acc or "unknown"
    if per_node:
        return per_node * nodes, acc or "unknown"
    m = re.match(r"\s*(\d+)\s*x\s*(.+)", str(r.platform or ""))
    if m:
        return int(m.group(1)), acc or m.group(2).strip()
    return 1, acc or "unknown"


def _summary(results, systems) -> Section:
    n_pass = sum(r.passed is True for r in results)
    n_fail = sum(r.passed is False for r in results)
    s = Section("Summary").add(Facts([
        ("systems", ", ".join(sorted({r.system for r in results}))),
        ("benchmarks", ", ".join(sorted({r.benchmark for r in results}))),
        ("result files", len(results)), ("compliant", n_pass), ("not compliant", n_fail),
        ("not checked", len(results) - n_pass - n_fail)]))
    if n_fail:
        s.add(Text(f"{n_fail} result file(s) fail the MLPerf compliance check: they count as not converged. "
                   "See 'Compliance' for the checker's reasons.", "warn"))
    return s


def _groups(results):
    out: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        out.setdefault((r.benchmark, r.system), []).append(r)
    return out


def _score(runs: list[Result], benchmark: str):
    from dlbench.bench.score import score_runs

    min_runs = 5
    try:
        from dlbench.bench.suite import get_benchmark

        min_runs = get_benchmark(benchmark).min_runs
    except Exception:  # an unknown or custom benchmark, or the suite is not there: MLPerf's usual 5
        pass
    return score_runs([(r.seconds or 0.0, r.converged) for r in runs], min_runs=min_runs)


def _time_to_train(results, systems) -> Section:
    s = Section("Time to train")
    groups = _groups(results)
    rows = []
    for bench in sorted({b for b, _ in groups}):
        keys = sorted((k for k in groups if k[0] == bench), key=lambda k: devices(groups[k][0], systems)[0])
        fig, axes = F.new(6.8, 0.5 + 0.55 * len(keys) + 1.2)
        ax = axes[0, 0]
        labels = []
        for y, key in enumerate(keys):
            runs = groups[key]
            n, acc = devices(runs[0], systems)
            sc = _score(runs, bench)
            times = [r.seconds for r in runs if r.seconds is not None]
            ok = [r.seconds for r in runs if r.converged]
            bad = [r.seconds for r in runs if not r.converged and r.seconds is not None]
            ax.scatter(ok, [y] * len(ok), color=F.TRAIN, s=22, zorder=3, label="converged run" if y == 0 else None)
            ax.scatter(bad, [y] * len(bad), color=F.VAL, marker="x", s=26, zorder=3,
                       label="not converged / not compliant" if y == 0 else None)
            if times:
                ax.hlines(y, min(times), max(times), color=F.IDEAL, lw=1)
            if sc.olympic_mean_s is not None:
                ax.scatter([sc.olympic_mean_s], [y], marker="|", s=400, color="black", zorder=4,
                           label="olympic mean" if y == 0 else None)
            labels.append(f"{key[1]}\n{n}× {acc}")
            rows.append([bench, key[1], n, acc, sc.n_runs, sc.n_converged, sc.olympic_mean_s, sc.median_s,
                         sc.stdev_s, min(times) if times else None, max(times) if times else None,
                         "yes" if sc.official else ("no" if sc.valid else "invalid"), sc.reason])
        ax.set_yticks(range(len(keys)), labels)
        ax.set(xlabel="time to train (s)", title=f"{bench}: time to train per system")
        ax.set_ylim(-0.6, len(keys) - 0.4)
        ax.legend(loc="lower right", fontsize=7)
        s.add(F.to_figure(fig, f"time to train of {bench} on each system",
                          "Each mark is one run (run_start to run_stop); the bar spans the fastest to the slowest "
                          "run; the black tick is MLPerf's olympic mean (fastest and slowest dropped)."))
    s.add(Table(["benchmark", "system", "devices", "accelerator", "runs", "converged", "olympic mean (s)",
                 "median (s)", "stdev (s)", "min (s)", "max (s)", "official", "note"], rows,
                "Scores follow MLPerf's result summarizer; 'official' needs the benchmark's minimum number of runs."))
    return s


def _scaling(root, results, systems) -> Section:
    s = Section("Scaling: speedup vs ideal")
    groups = _groups(results)
    by: dict[tuple[str, str], list[tuple[int, float, str]]] = {}
    for (bench, system), runs in groups.items():
        n, acc = devices(runs[0], systems)
        sc = _score(runs, bench)
        t = sc.olympic_mean_s if sc.olympic_mean_s is not None else sc.median_s
        if t:
            # a sweep's folders (<system>-x1, -x2, ...) compare with each other; other systems by accelerator
            group = SWEEP.sub("", system) if SWEEP.search(system) else acc
            by.setdefault((bench, group), []).append((n, t, system))
    rows, drew = [], False
    fig, axes = F.new(6.4, 3.6)
    ax = axes[0, 0]
    top = 1
    for i, ((bench, acc), pts) in enumerate(sorted(by.items())):
        pts.sort()
        if len({n for n, _, _ in pts}) < 2:
            continue
        n0, t0, _ = pts[0]
        xs = [n for n, _, _ in pts]
        sp = [t0 / t for _, t, _ in pts]
        ax.plot(xs, sp, marker="o", color=F.SERIES[i % len(F.SERIES)], label=f"{bench} ({acc})")
        top = max(top, max(xs) / n0)
        drew = True
        rows += [[bench, system, acc, n, t, t0 / t, n / n0, (t0 / t) / (n / n0)] for n, t, system in pts]
    sweeps = benchextra.scaling_docs(root)
    if not drew:
        import matplotlib.pyplot as plt

        plt.close(fig)
        return s.add(*sweeps, Absent("speedup plot", "needs one benchmark measured at two or more device counts of the same "
                            "accelerator (e.g. 1 and 8 GPUs); these results have one device count per benchmark"))
    ax.plot([1, top], [1, top], color=F.IDEAL, ls="--", label="ideal (linear)")
    ax.set(xlabel="devices relative to the smallest system", ylabel="speedup", title="speedup vs ideal")
    ax.legend(fontsize=7)
    s.add(F.to_figure(fig, "measured speedup against the ideal linear speedup",
                      "Speedup of time to train relative to the fewest devices measured; the dashed line is perfect "
                      "scaling. The gap is communication, input pipeline and batch-size effects."))
    return s.add(Table(["benchmark", "system", "group", "devices", "time (s)", "speedup", "ideal", "efficiency"], rows,
                       "Time is the olympic mean where the runs allow one, else the median of converged runs."), *sweeps)


def _compliance(results) -> Section:
    rows = [[r.system, r.benchmark, r.path.name,
             "pass" if r.passed else ("fail" if r.passed is False else "not checked"),
             seconds(r.seconds), r.status, fmt(max(r.accuracies)) if r.accuracies else None,
             (r.reason.splitlines() or [""])[0][:240]] for r in results]
    return Section("Compliance").add(
        Table(["system", "benchmark", "file", "verdict", "time to train", "run_stop status", "best eval_accuracy",
               "checker says"], rows, "The MLPerf Training compliance checker's verdict on every result file.",
              numeric=False))
