"""Validate the sizing model on this machine: predicted vs measured time-to-train of `bench run digits-cnn`.

    OMP_NUM_THREADS=1 .venv/bin/python bench/sizing_this_machine.py [--runs 5] [--profile-seconds 30]

1. `dlbench bench run digits-cnn` (the shipped benchmark, MLPerf clock): the measured time-to-train
   (olympic mean) and the samples each run needed to reach the target (from its result log).
2. `dlbench size RESULTS --profile-seconds 30`: a 30-second profile of the same training step on this
   CPU, the FLOPs counted by torch's FLOP counter, the efficiency this CPU reached, and from those the
   predicted time-to-train of "1 x this-cpu" for the measured number of samples.
The ratio predicted / measured is the validation (target: within 25 %). The machine is shared: the load
average and the CPU share other processes took are printed with each number, as both move the result.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import psutil


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile-seconds", type=float, default=30.0)
    args = ap.parse_args()
    from dlbench.bench.harness import run_benchmark
    from dlbench.bench.suite import get_benchmark
    from dlbench.size.plan import size

    with tempfile.TemporaryDirectory(prefix="sizing-") as tmp:
        out = os.path.join(tmp, "results")
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        res = run_benchmark(get_benchmark("digits-cnn"), args.runs, out=out, progress=False)
        bench_s = time.perf_counter() - t0
        load1 = os.getloadavg()[0]
        doc = size(out, profile_seconds=args.profile_seconds, gpus="H100,L40S")
        load2 = os.getloadavg()[0]
    measured = doc["this_machine"]["measured_time_to_train"]
    pred = next(p for p in doc["candidates"] if p["device"] == "this-cpu" and p["devices"] == 1)
    prof = doc["this_machine"]["profile"]
    ratio = pred["time_to_train"]["value"] / measured["value"]
    print(f"machine: {psutil.cpu_count()} threads; load average {load0:.1f} before the benchmark, {load1:.1f} after it, "
          f"{load2:.1f} after the profile")
    print(f"benchmark: {len(res.runs)} runs in {bench_s:.0f} s; times {[round(r.time_to_train_s or 0, 2) for r in res.runs]}")
    print(f"measured time-to-train: {measured['value']:.2f} s ({measured['source']})")
    print(f"work: {doc['workload']['samples']['value']:.0f} samples ({doc['workload']['samples']['source']})")
    print(f"profile: {prof['steps']} steps in {prof['seconds']:.1f} s, {prof['samples_per_s']:.0f} samples/s, "
          f"other processes took {prof['cpu_other']:.0%} of the CPU")
    print(f"efficiency: {doc['efficiency']['value']:.1%} ({doc['efficiency']['source']})")
    print(f"predicted time-to-train on this CPU: {pred['time_to_train']['value']:.2f} s ({pred['time_to_train']['source']})")
    print(f"predicted / measured = {ratio:.3f} ({(ratio - 1):+.1%}); within 25 %: {abs(ratio - 1) <= 0.25}")
    for p in doc["candidates"]:
        if p["device"] != "this-cpu":
            print(f"  same workload, {p['devices']} x {p['device']}: {p['time_to_train']['value']:.3g} s ({p['bound']})")


if __name__ == "__main__":
    main()
