"""What the time-to-train harness adds to the training it measures, in one process.

    .venv/bin/python bench/harness_overhead.py [--benchmark diabetes-mlp] [--repeats 7] [--max-steps N]

Both sides train the benchmark's reference config with its fixed settings, the same seed,
the full step budget (the target is made unreachable, so neither stops early) and no
test-set evaluation:
  plain    dlbench.api.train(...)
  harness  bench.harness.timed_run(...): the MLPerf result file from init_start to run_stop,
           the observer's device-synchronized events at run start and around every
           evaluation, the (disabled unless --live) progress line
The sides are interleaved (plain, harness, harness, plain, ...) after one untimed warm-up of
each (the harness's first run also probes the task), so machine noise hits both. Printed:
the median and minimum wall time of each side and their ratios; target: under 1.02.
Session-level work that happens once per `bench run` (inventory, compliance checks, the
database) is outside this measurement; `dlbench bench run` prints its runs' own timings.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="diabetes-mlp")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--live", action="store_true", help="show the harness's progress line (on stderr)")
    ap.add_argument("-o", "--override", action="append", default=[], help="extra dotted.key=value, e.g. train.threads=1")
    args = ap.parse_args()

    from dlbench.api import _as_config, train
    from dlbench.bench.harness import Clock, Session, timed_run
    from dlbench.bench.live import RunLine
    from dlbench.bench.suite import get_benchmark
    from dlbench.training.device import pick_device

    b = get_benchmark(args.benchmark)
    b = b.model_copy(update={"quality": b.quality.model_copy(update={"op": ">", "target": float("inf")})})
    steps = args.max_steps or b.max_steps
    overrides = [*b.reference_overrides(steps), *args.override, "train.seed=0"]
    device = pick_device(_as_config(b.config, overrides).train.device)

    with tempfile.TemporaryDirectory(prefix="dlbench-overhead-") as tmp:
        tmp = Path(tmp)
        ses = Session(b, overrides, steps, Clock(device), RunLine(1, "unreachable", enabled=args.live),
                      {"org": "dlbench", "division": "open", "platform": "overhead", "status": "research"},
                      1e9, tmp / "results", "overhead")
        ses.bench_dir.mkdir(parents=True)
        k = {"i": 0}

        def plain():
            train(b.config, overrides, run_dir=tmp / f"plain-{k['i']}", quiet=True, evaluate_test=False)

        def harness():
            timed_run(ses, k["i"], 0)

        def timed(fn) -> float:
            t0 = time.perf_counter()
            fn()
            k["i"] += 1
            return time.perf_counter() - t0

        timed(harness), timed(plain)  # warm-up: imports, kernels, the probe
        times = {"plain": [], "harness": []}
        for rep in range(args.repeats):
            order = ("plain", "harness") if rep % 2 == 0 else ("harness", "plain")
            for side in order:
                times[side].append(timed(plain if side == "plain" else harness))
            print(f"repeat {rep + 1}: plain {times['plain'][-1]:.3f} s, harness {times['harness'][-1]:.3f} s",
                  flush=True)

    med = {s: statistics.median(t) for s, t in times.items()}
    low = {s: min(t) for s, t in times.items()}
    print(f"\n{b.name}: {steps} steps, eval every {b.eval_every} ({steps // b.eval_every} evaluations), "
          f"{args.repeats} interleaved repeats on {device}")
    print(f"plain    median {med['plain']:.3f} s  min {low['plain']:.3f} s")
    print(f"harness  median {med['harness']:.3f} s  min {low['harness']:.3f} s")
    print(f"ratio harness / plain: median {med['harness'] / med['plain']:.4f}, min {low['harness'] / low['plain']:.4f}"
          f"  (target < 1.02)")


if __name__ == "__main__":
    main()
