"""Seed sweep of a benchmark's reference config, to choose (or re-check) its quality target.

    python -m dlbench.bench.sweep mnist1d-cnn digits-cnn --seeds 10

Each seed trains the full step budget (no stop at the target; with --stop-at, until the metric
reaches that value, which it cannot exceed) with the benchmark's fixed settings, in a temporary
run directory, without the test-set evaluation. Printed per seed: the best value of the quality
metric and the first evaluated step that reaches the current target; then, per benchmark,
the fraction of seeds that reach it and the best target that at least 90 % of seeds reach.
"""
from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from pathlib import Path

from dlbench.bench.suite import OPS, get_benchmark


class _StopAt:
    """Observer that ends a seed once the metric reaches `value`, the best it can be (accuracy 1.0)."""

    def __init__(self, metric: str, value: float | None):
        self.metric, self.value = metric, value

    def run_start(self):
        pass

    def eval_start(self, step):
        pass

    def eval_stop(self, step, metrics) -> bool:
        return self.value is not None and metrics.get(self.metric, -math.inf) >= self.value


def sweep_one(name: str, seeds: list[int], extra: list[str], stop_at: float | None = None, on_seed=None) -> dict:
    from dlbench.api import train
    from dlbench.run import RunDir

    b = get_benchmark(name)
    q = b.quality
    higher = q.op in (">=", ">")
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dlbench-sweep-") as tmp:
            res = train(b.config, [*b.reference_overrides(), f"train.seed={seed}", *extra], run_dir=Path(tmp) / "run",
                        observer=_StopAt(q.metric, stop_at), evaluate_test=False)
            evals = [r for r in RunDir(res.run_dir).read_metrics() if r.get("kind") == "eval"]
        curve = [(r["step"], r[q.metric] * q.scale) for r in evals
                 if isinstance(r.get(q.metric), (int, float)) and math.isfinite(r[q.metric])]
        best = (max if higher else min)(v for _, v in curve)
        reach = next((s for s, v in curve if OPS[q.op](v, q.target)), None)
        rows.append({"seed": seed, "best": best, "steps_to_target": reach, "seconds": time.perf_counter() - t0,
                     "curve": curve})
        print(f"  {name} seed {seed}: best {best:.4f}, steps to {q} {reach}, {rows[-1]['seconds']:.0f} s", flush=True)
        if on_seed:
            on_seed(rows[-1])
    return summarize(name, rows)


def summarize(name: str, rows: list[dict]) -> dict:
    """Per benchmark: seeds that reach the current target, and the best target 90 % of them reach."""
    b = get_benchmark(name)
    q = b.quality
    for r in rows:  # steps to the benchmark's current target, from the curve
        r["steps_to_target"] = next((s for s, v in r["curve"] if OPS[q.op](v, q.target)), None)
    bests = sorted((r["best"] for r in rows), reverse=q.op in (">=", ">"))  # best first
    k = math.ceil(0.9 * len(bests)) - 1  # the k+1 best seeds (at least 90 %) all reach bests[k]
    return {"benchmark": b, "rows": rows, "reached": sum(r["steps_to_target"] is not None for r in rows),
            "target_90": bests[k]}


def markdown(results: list[dict], command: str) -> str:
    import psutil

    out = [f"Command: `{command}`  ",
           f"Machine: {platform.node()}, {psutil.cpu_count()} CPU threads, torch on CPU; "
           f"date {time.strftime('%Y-%m-%d %H:%M')}; load average at the end {psutil.getloadavg()[0]:.1f}", ""]
    for r in results:
        b = r["benchmark"]
        out += [f"**{b.name}** v{b.version}: {b.config} + benchmark settings, batch {b.global_batch_size}, "
                f"eval every {b.eval_every}, budget {b.max_steps} steps; target `{b.quality}`", "",
                "| seed | best | steps to target | seconds |", "|---:|---:|---:|---:|"]
        out += [f"| {x['seed']} | {x['best']:.4f} | {x['steps_to_target'] or 'not reached'} | {x['seconds']:.0f} |"
                for x in r["rows"]]
        out += ["", f"Reached by {r['reached']}/{len(r['rows'])} seeds; the best target at least 90 % of the "
                f"seeds reach is {r['target_90']:.4f}.", ""]
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benchmarks", nargs="+")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds first..first+seeds-1 (split a sweep over processes; --report merges them)")
    ap.add_argument("-o", "--override", action="append", default=[], help="extra dotted.key=value")
    ap.add_argument("--json", help="also append every seed's evaluation curve here as it finishes (JSON lines)")
    ap.add_argument("--report", help="only summarize a --json file written earlier")
    ap.add_argument("--stop-at", type=float, help="end a seed when the metric, in its own units (sacrebleu BLEU 0..100), reaches this (accuracy 1.0)")
    args = ap.parse_args(argv)
    import json
    import sys

    if args.report:  # re-summarize earlier --json output against the current targets
        with open(args.report) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        rows: dict[str, dict] = {}  # one seed's latest record wins (a seed that was re-run)
        for r in recs:
            rows.setdefault(r["benchmark"], {}).update({x["seed"]: x for x in r["rows"]})
        results = [summarize(n, [rows[n][s] for s in sorted(rows[n])]) for n in args.benchmarks if n in rows]
        print(markdown(results, "python -m dlbench.bench.sweep " + " ".join(sys.argv[1:])))
        return
    def saver(name):
        def save(row):  # per seed, so a sweep that is stopped keeps what it finished
            with open(args.json, "a") as f:
                f.write(json.dumps({"benchmark": name, "rows": [row]}) + "\n")
        return save if args.json else None

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    results = [sweep_one(n, seeds, args.override, args.stop_at, on_seed=saver(n)) for n in args.benchmarks]
    print(markdown(results, "python -m dlbench.bench.sweep " + " ".join(sys.argv[1:])))


if __name__ == "__main__":
    main()
