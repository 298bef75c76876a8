"""Drift monitoring on vs off: the batching benchmark's load (32 closed-loop clients, one-row requests, batching
64 / 5 ms) against one served run, in the same run of this script.

    python bench/monitor_overhead.py                  # trains a small mnist1d-cnn run (a reference profile with
                                                      # 44 input features: 40 values + 4 statistics), serves it
    python bench/monitor_overhead.py --run runs/NAME  # any run directory with a reference profile

Three server processes run side by side: monitoring off (--no-monitor), on (the default: features, window,
far-outside flag per request, scores in their thread), and on with --request-log at a 10 % sample. The load goes to
one at a time, in turns (the order alternates each round), so the other tenants of a shared machine weigh on each
mode alike. While the clients run, /metrics is scraped every --scrape-s seconds, so the drift scoring it triggers is
inside the measured window. The load generator is bench/serve_batching.py's. Prints per mode req/s, latencies and
the server's CPU time per request (psutil, over the turn / the server's own request counter), then the throughput
ratio on/off (median of the paired turns; target: on costs at most 10 %) and the CPU-per-request ratio.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_batching as sb  # noqa: E402  (the batching benchmark's load generator and helpers)

HOST = sb.HOST


def serve(args) -> None:
    import torch

    torch.set_num_threads(args.torch_threads)
    from dlbench.serve.runs import load_predictor
    from dlbench.serve.server import run_server

    options = {"monitor": args.mode != "off"}
    if args.mode == "log":
        options.update(request_log=args.log, request_log_sample_rate=0.1)
    run_server([load_predictor(args.run, name="m")], host=HOST, port=args.port, api_keys_path=args.keys,
               max_batch_size=64, max_batch_delay_ms=5.0, max_queue=1024, request_timeout_s=30, **options)


def scrape(port: int, key: str, every_s: float, stop: threading.Event) -> None:
    req = urllib.request.Request(f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {key}"})
    while not stop.wait(every_s):
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except OSError:
            pass


def answered(port: int, key: str) -> float:
    """Inference requests the server has answered (its own counter)."""
    req = urllib.request.Request(f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {key}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("dlbench_requests_total{") and 'endpoint="infer"' in line)


def start(args, key_file: Path, mode: str, tmp: Path) -> tuple[subprocess.Popen, int]:
    port = sb._free_port()
    cmd = [sys.executable, __file__, "--_serve", "--port", str(port), "--keys", str(key_file), "--run", args.run,
           "--mode", mode, "--log", str(tmp / f"requests-{mode}.jsonl"), "--torch-threads", str(args.torch_threads)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sb._wait_ready(port, server)
    return server, port


def measure(args, server: subprocess.Popen, port: int, key: str) -> dict:
    """One slice of load against one server: throughput, latency, and the server's CPU time per request."""
    import psutil

    proc = psutil.Process(server.pid)
    cpu0, n0 = sum(proc.cpu_times()[:2]), answered(port, key)
    stop = threading.Event()
    scraper = threading.Thread(target=scrape, args=(port, key, args.scrape_s, stop), daemon=True)
    scraper.start()
    out: mp.Queue = mp.get_context("spawn").Queue()
    load = mp.get_context("spawn").Process(
        target=sb.load, args=(port, key, "m", args.clients, args.warmup_s, args.measure_s, out))
    load.start()
    try:
        result = out.get(timeout=args.warmup_s + args.measure_s + 120)
        load.join(30)
    finally:
        stop.set()
    cpu1, n1 = sum(proc.cpu_times()[:2]), answered(port, key)
    lat = sorted(result["latencies"])
    if not lat:
        raise SystemExit(f"no successful requests (errors: {result['errors']})")
    q = statistics.quantiles(lat, n=100)
    return {"req_s": len(lat) / result["window_s"], "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "errors": result["errors"], "cpu_ms_per_req": 1000 * (cpu1 - cpu0) / max(n1 - n0, 1)}


def monitoring_cpu(run: str, requests: int = 5000) -> tuple[float, float]:
    """In this process, by CPU time (time.process_time: what other tenants of the machine barely move): the
    monitoring work of one one-row request (features, window, far-outside check) in ms, and one scoring of a full
    window in ms."""
    import numpy as np

    from dlbench.serve.drift import Monitoring
    from dlbench.serve.runs import load_predictor
    from dlbench.serve.settings import ServeSettings

    predictor = load_predictor(run)
    monitoring = Monitoring(ServeSettings(no_auth=True, drift_interval_s=0))
    monitor = monitoring.attach(predictor)
    spec = predictor.inputs()[0]
    x = {spec.name: np.random.default_rng(0).normal(size=(requests, *spec.shape[1:])).astype(np.float32)}
    outputs = predictor.predict(x, {})
    one = [({k: v[i:i + 1] for k, v in x.items()}, {k: v[i:i + 1] for k, v in outputs.items()}) for i in range(requests)]
    t0 = time.process_time()
    for inputs, out in one:
        monitoring.observe(predictor, inputs, out, None)
    per_request = (time.process_time() - t0) / requests
    monitor._pending_rows += 1  # force a fresh score
    t0 = time.process_time()
    monitor.scores()
    return 1000 * per_request, 1000 * (time.process_time() - t0)


def train_run(path: Path) -> str:
    import dlbench

    # The batching benchmark's model shape (mnist1d-cnn); training length barely matters to serving cost.
    dlbench.train("mnist1d-cnn", overrides=["train.steps=60", "train.eval_every=30", "train.threads=1"], run_dir=path)
    return str(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="serve this run directory (default: train a small mnist1d-cnn run first)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--warmup-s", type=float, default=2.0)
    p.add_argument("--measure-s", type=float, default=8.0)
    p.add_argument("--scrape-s", type=float, default=2.0, help="seconds between /metrics scrapes during the load")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="rounds of one turn per mode")
    p.add_argument("--_serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--keys", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--log", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._serve:
        return serve(args)

    from dlbench.serve.auth import add_key

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.run:
            args.run = train_run(tmp / "run")
        key_file = tmp / "keys.json"
        key = add_key(key_file, "bench")
        modes = [("off", "monitoring off"), ("on", "monitoring on"), ("log", "on + request log 10%")]
        # All three servers run side by side for the whole benchmark; the load goes to one at a time, in turns,
        # so that the other tenants of a shared machine weigh on every mode alike.
        servers = {mode: start(args, key_file, mode, tmp) for mode, _ in modes}
        print(f"{args.clients} clients, one-row requests, batching 64 / 5 ms, {args.warmup_s:g}s warm-up + "
              f"{args.measure_s:g}s measured per turn, /metrics every {args.scrape_s:g}s, cpu_count={os.cpu_count()}, "
              f"torch threads={args.torch_threads}, run {args.run}, load average {sb._load()}")
        runs: dict[str, list[dict]] = {m: [] for m, _ in modes}
        try:
            for rep in range(args.repeats):
                for mode, label in modes[:: 1 if rep % 2 == 0 else -1]:
                    r = measure(args, *servers[mode], key)
                    runs[mode].append(r)
                    print(f"  [{rep + 1}/{args.repeats}] {label:22s}: {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
                          f"  p99 {r['p99_ms']:7.2f} ms  server CPU {r['cpu_ms_per_req']:.3f} ms/request  "
                          f"errors {r['errors']}", flush=True)
        finally:
            for server, _ in servers.values():
                server.terminate()
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
        keys = ("req_s", "p50_ms", "p99_ms", "cpu_ms_per_req")
        med = {m: {k: statistics.median(r[k] for r in rs) for k in keys} for m, rs in runs.items()}
        print("median over turns:")
        for mode, label in modes:
            r = med[mode]
            print(f"  {label:22s}: {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                  f"server CPU {r['cpu_ms_per_req']:.3f} ms/request")
        print(f"load average at the end: {sb._load()}")
        per_request, scoring = monitoring_cpu(args.run)
        off_cpu = med["off"]["cpu_ms_per_req"]
        print(f"monitoring's own CPU time, in process: {per_request * 1000:.1f} us per one-row request "
              f"({100 * per_request / off_cpu:.1f} % of the server's {off_cpu:.3f} ms per request with monitoring off); "
              f"scoring a full window {scoring:.0f} ms, at most once per --drift-interval-s (10 s by default: "
              f"{100 * scoring / 10_000:.1f} % of one core)")
        for mode, label in modes[1:]:
            # each turn against the off turn of the same round: the pairs share the machine's state of the moment
            ratios = [on["req_s"] / off["req_s"] for on, off in zip(runs[mode], runs["off"])]
            cpu = med[mode]["cpu_ms_per_req"] / med["off"]["cpu_ms_per_req"]
            ratio = statistics.median(ratios)
            print(f"{label} / off: throughput {ratio:.3f}x (median of {len(ratios)} paired turns; cost "
                  f"{100 * (1 - ratio):+.1f} %; target <= 10 %: {'PASS' if ratio >= 0.9 else 'FAIL'})   "
                  f"server CPU per request {cpu:.3f}x (cost {100 * (cpu - 1):+.1f} %)")

if __name__ == "__main__":
    main()
