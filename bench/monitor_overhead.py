"""Drift monitoring on vs off: the batching benchmark's load (32 closed-loop clients, one-row requests, batching
64 / 5 ms) against one served run, in the same run of this script.

    python bench/monitor_overhead.py                  # trains a small mnist1d-cnn run (a reference profile with
                                                      # 44 input features: 40 values + 4 statistics), serves it
    python bench/monitor_overhead.py --run runs/NAME  # any run directory with a reference profile

Modes, each a fresh server process: monitoring off (--no-monitor), on (the default: features, window, far-outside
flag per request), and on with --request-log at a 10 % sample. While the clients run, /metrics is scraped every
--scrape-s seconds, so the drift scoring it triggers is inside the measured window too. The load generator is
bench/serve_batching.py's. Prints req/s and latencies per mode (medians over --repeats, alternating the order) and
the throughput ratio on/off (target: on costs at most 10 %).
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


def measure(args, key_file: Path, key: str, mode: str, tmp: Path) -> dict:
    port = sb._free_port()
    cmd = [sys.executable, __file__, "--_serve", "--port", str(port), "--keys", str(key_file), "--run", args.run,
           "--mode", mode, "--log", str(tmp / f"requests-{port}.jsonl"), "--torch-threads", str(args.torch_threads)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    try:
        sb._wait_ready(port, server)
        out: mp.Queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(
            target=sb.load, args=(port, key, "m", args.clients, args.warmup_s, args.measure_s, out))
        proc.start()
        scraper = threading.Thread(target=scrape, args=(port, key, args.scrape_s, stop), daemon=True)
        scraper.start()
        result = out.get(timeout=args.warmup_s + args.measure_s + 120)
        proc.join(30)
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    lat = sorted(result["latencies"])
    if not lat:
        raise SystemExit(f"no successful requests in mode {mode}; server stderr:\n{server.stderr.read()[-3000:]}")
    q = statistics.quantiles(lat, n=100)
    return {"req_s": len(lat) / result["window_s"], "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "errors": result["errors"]}


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
    p.add_argument("--repeats", type=int, default=3)
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
        print(f"{args.clients} clients, one-row requests, batching 64 / 5 ms, {args.warmup_s:g}s warm-up + "
              f"{args.measure_s:g}s measured per mode, /metrics every {args.scrape_s:g}s, cpu_count={os.cpu_count()}, "
              f"torch threads={args.torch_threads}, run {args.run}, load average {sb._load()}")
        modes = [("off", "monitoring off"), ("on", "monitoring on"), ("log", "on + request log 10%")]
        runs: dict[str, list[dict]] = {m: [] for m, _ in modes}
        for rep in range(args.repeats):
            for mode, label in modes[:: 1 if rep % 2 == 0 else -1]:
                r = measure(args, key_file, key, mode, tmp)
                runs[mode].append(r)
                print(f"  [{rep + 1}/{args.repeats}] {label:22s}: {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                      f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}", flush=True)
        med = {m: {k: statistics.median(r[k] for r in rs) for k in ("req_s", "p50_ms", "p99_ms")} for m, rs in runs.items()}
        print("median over repeats:")
        for mode, label in modes:
            r = med[mode]
            print(f"  {label:22s}: {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms")
        print(f"load average at the end: {sb._load()}")
        off = med["off"]
        for mode, label in modes[1:]:
            ratio = med[mode]["req_s"] / off["req_s"]
            print(f"{label} / off: throughput {ratio:.3f}x (cost {100 * (1 - ratio):+.1f} %; target <= 10 %: "
                  f"{'PASS' if ratio >= 0.9 else 'FAIL'})   p50 {med[mode]['p50_ms'] / off['p50_ms']:.2f}x   "
                  f"p99 {med[mode]['p99_ms'] / off['p99_ms']:.2f}x")


if __name__ == "__main__":
    main()
