"""Seed sweep of a benchmark's reference config, to choose (or re-check) its quality target.

    python -m dlbench.bench.sweep mnist1d-cnn digits-cnn --seeds 10

Each seed trains the full step budget (no stop at the target) with the benchmark's fixed
settings, in a temporary run directory. Printed per seed: the best value of the quality
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


def sweep_one(name: str, seeds: list[int], extra: list[str]) -> dict:
    from dlbench.api import train
    from dlbench.run import RunDir

    b = get_benchmark(name)
    q = b.quality
    higher = q.op in (">=", ">")
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dlbench-sweep-") as tmp:
            res = train(b.config, [*b.reference_overrides(), f"train.seed={seed}", *extra], run_dir=Path(tmp) / "run")
            evals = [r for r in RunDir(res.run_dir).read_metrics() if r.get("kind") == "eval"]
        curve = [(r["step"], r[q.metric] * q.scale) for r in evals
                 if isinstance(r.get(q.metric), (int, float)) and math.isfinite(r[q.metric])]
        best = (max if higher else min)(v for _, v in curve)
        reach = next((s for s, v in curve if OPS[q.op](v, q.target)), None)
        rows.append({"seed": seed, "best": best, "steps_to_target": reach, "seconds": time.perf_counter() - t0,
                     "curve": curve})
        print(f"  {name} seed {seed}: best {best:.4f}, steps to {q} {reach}, {rows[-1]['seconds']:.0f} s", flush=True)
    bests = sorted((r["best"] for r in rows), reverse=not higher)  # worst first
    k = math.floor(0.1 * len(bests))  # the best target that all but 10 % of the seeds reach
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
    ap.add_argument("-o", "--override", action="append", default=[], help="extra dotted.key=value")
    ap.add_argument("--json", help="also write every seed's evaluation curve here (JSON lines)")
    args = ap.parse_args(argv)
    import json
    import sys

    results = []
    for n in args.benchmarks:
        results.append(sweep_one(n, list(range(args.seeds)), args.override))
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps({"benchmark": n, "rows": results[-1]["rows"]}) + "\n")
    print(markdown(results, "python -m dlbench.bench.sweep " + " ".join(sys.argv[1:])))


if __name__ == "__main__":
    main()
