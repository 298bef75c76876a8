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
each (the harness's first run also probes the task), so machine noise hits both. Printed per
side: median and minimum wall time and process CPU time (user + system of this process, the
steadier number on a shared machine), and their ratios; target: under 1.02. Also printed, as
a direct measure that machine noise cannot blur: the time spent inside the harness's observer
callbacks (the only harness code that runs between run_start and run_stop) as a fraction of
the harness runs' wall time.
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
    from dlbench.bench import harness as H
    from dlbench.bench.harness import Clock, Session, timed_run
    from dlbench.bench.live import RunLine
    from dlbench.bench.suite import get_benchmark
    from dlbench.training.device import pick_device

    b = get_benchmark(args.benchmark)
    b = b.model_copy(update={"quality": b.quality.model_copy(update={"op": ">", "target": float("inf")})})
    steps = args.max_steps or b.max_steps
    overrides = [*b.reference_overrides(steps), *args.override, "train.seed=0"]
    device = pick_device(_as_config(b.config, overrides).train.device)

    in_observer = [0.0, 0.0]  # wall and CPU seconds inside TimedRun callbacks: harness code inside the clock

    def clocked(fn):
        def wrapper(*a, **k):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                in_observer[0] += time.perf_counter() - t0
                in_observer[1] += time.process_time() - c0
        return wrapper

    for name in ("run_start", "eval_start", "eval_stop"):
        setattr(H.TimedRun, name, clocked(getattr(H.TimedRun, name)))
    import dlbench.api

    in_train = [0.0]  # wall seconds inside api.train when the harness calls it
    real_train = dlbench.api.train

    def harness_train(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real_train(*a, **kw)
        finally:
            in_train[0] += time.perf_counter() - t0

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
            dlbench.api.train = harness_train  # timed_run imports it at call time
            try:
                timed_run(ses, k["i"], 0)
            finally:
                dlbench.api.train = real_train

        def timed(fn) -> tuple[float, float]:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            k["i"] += 1
            return time.perf_counter() - t0, time.process_time() - c0

        timed(harness), timed(plain)  # warm-up: imports, kernels, the probe
        in_observer[:] = [0.0, 0.0]
        in_train[0] = 0.0
        wall = {"plain": [], "harness": []}
        cpu = {"plain": [], "harness": []}
        for rep in range(args.repeats):
            order = ("plain", "harness") if rep % 2 == 0 else ("harness", "plain")
            for side in order:
                w, c = timed(plain if side == "plain" else harness)
                wall[side].append(w)
                cpu[side].append(c)
            print(f"repeat {rep + 1}: plain {wall['plain'][-1]:.3f} s (cpu {cpu['plain'][-1]:.3f}), "
                  f"harness {wall['harness'][-1]:.3f} s (cpu {cpu['harness'][-1]:.3f})", flush=True)

    print(f"\n{b.name}: {steps} steps, eval every {b.eval_every} ({steps // b.eval_every} evaluations), "
          f"{args.repeats} interleaved repeats on {device}")
    for what, t in (("wall", wall), ("cpu", cpu)):
        med = {s: statistics.median(v) for s, v in t.items()}
        low = {s: min(v) for s, v in t.items()}
        print(f"{what:4s}  plain median {med['plain']:.3f} s min {low['plain']:.3f} s | harness median "
              f"{med['harness']:.3f} s min {low['harness']:.3f} s | ratio median {med['harness'] / med['plain']:.4f}"
              f" min {low['harness'] / low['plain']:.4f}  (target < 1.02)")
    print(f"inside the clock: observer callbacks take {1e3 * in_observer[0] / args.repeats:.1f} ms wall "
          f"({in_observer[0] / sum(wall['harness']):.3%} of the harness runs' wall time), "
          f"{1e3 * in_observer[1] / args.repeats:.1f} ms CPU ({in_observer[1] / sum(cpu['harness']):.3%} of their CPU time) "
          f"per run")
    print(f"outside the clock: {1e3 * (sum(wall['harness']) - in_train[0]) / args.repeats:.1f} ms per run of harness "
          f"work around api.train (result file, init records, config)")


if __name__ == "__main__":
    main()
