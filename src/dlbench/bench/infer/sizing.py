"""Sizing advice from a measurement: what limits this model, the batch size to serve it with, what
a sample costs on each device, and how many replicas a target rate needs.

A short in-process batch sweep (the predictor's own predict(), preprocessing included) gives, per
batch size, the time of one call and so the throughput. Under a p99 latency bound L a request can
wait for the batch in progress and then run in its own, so a batch size is usable when two calls
fit in L (a call's 90th-percentile time: the sweep is too short for a stable 99th). Then:

    throughput-bound   the largest usable batch already reaches (nearly) peak throughput: more
                       hardware (replicas) is the only way to more QPS;
    latency-bound      the bound caps the batch below the throughput peak: a looser bound or a
                       faster device buys QPS before more replicas do.

Replicas for a target QPS use the Server scenario's measured max QPS when this run measured it,
else an estimate (70% of the usable batch's throughput, the headroom Poisson arrivals need).
"""
from __future__ import annotations

import math
import time

import numpy as np

HEADROOM = 0.7


def sweep(predictor, samples, sizes, seconds: float = 0.3) -> list[dict]:
    """Per batch size: median and worst call time, samples/s and cost per sample, in this process."""
    from dlbench.bench.infer.backends import InProcess

    backend = InProcess(predictor, samples)
    rng = np.random.default_rng(0)
    sizes = [1] if not samples.batchable else sizes
    out = []
    for bs in sizes:
        for _ in range(2):  # warm-up at this shape
            backend.infer(rng.integers(0, samples.n, size=bs))
        times, end = [], time.perf_counter() + seconds
        while len(times) < 5 or (time.perf_counter() < end and len(times) < 200):
            idx = rng.integers(0, samples.n, size=bs)
            t0 = time.perf_counter()
            backend.infer(idx)
            times.append(time.perf_counter() - t0)
        med = float(np.median(times))
        out.append({"batch": bs, "p50_ms": med * 1e3, "p90_ms": float(np.quantile(times, 0.9)) * 1e3,
                    "samples_per_s": bs / med, "us_per_sample": med / bs * 1e6})
    return out


def _devices(run_dir, predictor) -> dict[str, object]:
    """The predictor on each device this machine has (CPU always; the GPU when there is one)."""
    import torch

    here = str(getattr(getattr(predictor, "run", None), "device", "cpu"))
    preds = {here.split(":")[0]: predictor}
    if torch.cuda.is_available() and hasattr(predictor, "run"):
        from dlbench.serve.runs import load_predictor

        other = "cpu" if here.startswith("cuda") else "cuda"
        preds[other] = load_predictor(run_dir, device=other)
    return preds


def advise(run_dir, predictor, samples, doc: dict, o) -> dict:
    bound_ms = o.latency_bound_ms
    sweeps = {dev: sweep(p, samples, o.sweep) for dev, p in _devices(run_dir, predictor).items()}
    here = str(doc["device"]).split(":")[0] if doc["backend"] == "in-process" else next(iter(sweeps))
    rows = sweeps.get(here) or next(iter(sweeps.values()))
    usable = [r for r in rows if 2 * r["p90_ms"] <= bound_ms]
    peak = max(rows, key=lambda r: r["samples_per_s"])
    best = max(usable, key=lambda r: r["samples_per_s"]) if usable else None
    kind = "throughput-bound" if best and best["samples_per_s"] >= 0.8 * peak["samples_per_s"] else "latency-bound"
    msgs = []
    if best is None:
        msgs.append(f"latency-bound: even one sample takes {rows[0]['p90_ms']:.2f} ms (p90) on {here}, too slow for "
                    f"a {bound_ms:g} ms p99 bound; a faster device or a smaller model is needed")
    elif kind == "latency-bound":
        msgs.append(f"latency-bound: the {bound_ms:g} ms bound caps batches at {best['batch']} "
                    f"({best['samples_per_s']:.0f} samples/s) below the peak of {peak['samples_per_s']:.0f} at batch "
                    f"{peak['batch']}; a looser bound or a faster device buys throughput before replicas do")
    else:
        msgs.append(f"throughput-bound: batch {best['batch']} fits the {bound_ms:g} ms bound and reaches "
                    f"{best['samples_per_s']:.0f} samples/s (peak {peak['samples_per_s']:.0f}); scale with replicas")
    if best:
        msgs.append(f"serve with --max-batch-size {best['batch']} (the largest batch whose two calls fit the bound)")
    cost = {}
    for dev, rs in sweeps.items():
        ok = [r for r in rs if 2 * r["p90_ms"] <= bound_ms] or rs[:1]
        b = max(ok, key=lambda r: r["samples_per_s"])
        cost[dev] = {"us_per_sample": b["us_per_sample"], "batch": b["batch"], "single_sample_ms": rs[0]["p50_ms"]}
    if "cpu" in cost and "cuda" in cost:
        ratio = cost["cpu"]["us_per_sample"] / cost["cuda"]["us_per_sample"]
        msgs.append(f"per sample: CPU {cost['cpu']['us_per_sample']:.2f} us (batch {cost['cpu']['batch']}), GPU "
                    f"{cost['cuda']['us_per_sample']:.2f} us (batch {cost['cuda']['batch']}): the GPU is {ratio:.1f}x "
                    f"{'cheaper' if ratio >= 1 else 'dearer'} per sample")
    else:
        c = cost[next(iter(cost))]
        msgs.append(f"per sample on {next(iter(cost))}: {c['us_per_sample']:.2f} us at batch {c['batch']} "
                    f"({c['single_sample_ms']:.3f} ms for a lone sample); no GPU here to compare with")
    server = doc["scenario"] == "server"
    if server:  # the measured rate of this back end, in-process or over HTTP, is what a replica does
        per_replica = float(doc["value"]) if doc["valid"] and doc["value"] else None
    else:  # an in-process estimate
        per_replica = HEADROOM * best["samples_per_s"] if best else None
    replicas = None
    if o.target_qps and per_replica:
        replicas = max(1, math.ceil(o.target_qps / per_replica))
        src = "the Server search" if server else "the in-process sweep, x0.7 headroom; measure with --scenario server"
        msgs.append(f"{o.target_qps:g} QPS at p99 <= {bound_ms:g} ms needs {replicas} replica(s) of "
                    f"{per_replica:.0f} QPS each ({src})")
    elif o.target_qps:
        msgs.append(f"replicas for {o.target_qps:g} QPS: none can be sized, no rate met the {bound_ms:g} ms bound; "
                    f"replicas add throughput, not lower latency")
    return {"kind": kind, "best_batch": best["batch"] if best else None, "peak_batch": peak["batch"],
            "per_sample": cost, "per_replica_qps": per_replica, "replicas": replicas,
            "target_qps": o.target_qps, "sweep": sweeps, "messages": msgs}
