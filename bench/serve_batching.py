"""Dynamic batching on vs off: same server code, same model, 32 concurrent clients, one run.

    python bench/serve_batching.py                  # mnist1d-cnn shape, random weights, CPU
    python bench/serve_batching.py --run runs/NAME  # a trained run, via load_predictor(run_dir)

For each mode a fresh server process is started on a loopback port (batching on: max_batch_size
64, 5 ms delay; on with no delay; off: max_batch_size 1 - the same code path), then a separate load-generator process runs
32 closed-loop clients (one keep-alive connection each) for a warm-up and a measured window.
Only the measured window counts. Prints req/s, p50/p99 latency and the mean batch size the server
actually formed (from its /metrics), then the on/off ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
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

import numpy as np

HOST = "127.0.0.1"


# --- the model -------------------------------------------------------------------------------

class CNNPredictor:
    """mnist1d-cnn shape with random weights: input FP32 [-1, 40] -> logits FP32 [-1, 10], label INT64 [-1]."""

    name, version, platform, batchable = "mnist1d-cnn", "1", "pytorch", True

    def __init__(self, seed: int = 0):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.torch = torch
        self.net = nn.Sequential(
            nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),   # [B, 1, 40] -> [B, 25, 19]
            nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),  # -> [B, 25, 10]
            nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),  # -> [B, 25, 5]
            nn.Flatten(), nn.Linear(125, 10),                      # -> [B, 10]
        ).eval()

    def inputs(self):
        from dlbench.serve.predictor import TensorSpec

        return [TensorSpec("input", "FP32", (-1, 40))]

    def outputs(self):
        from dlbench.serve.predictor import TensorSpec

        return [TensorSpec("logits", "FP32", (-1, 10)), TensorSpec("label", "INT64", (-1,))]

    def predict(self, inputs, parameters):
        with self.torch.inference_mode():
            logits = self.net(self.torch.from_numpy(inputs["input"])[:, None, :])
        return {"logits": logits.numpy(), "label": logits.argmax(dim=1).numpy()}


# --- server process ----------------------------------------------------------------------------

def serve(args) -> None:
    import torch

    # One intra-op thread: the event loop, the predict thread and the load generator share a few
    # cores, and extra OpenMP threads spinning at batch size 1 would measure contention, not batching.
    torch.set_num_threads(args.torch_threads)
    if args.run:
        from dlbench.serve.runs import load_predictor

        predictor = load_predictor(args.run)
    else:
        predictor = CNNPredictor()
    from dlbench.serve.server import run_server

    run_server([predictor], host=HOST, port=args.port, api_keys_path=args.keys,
               max_batch_size=args.max_batch_size, max_batch_delay_ms=args.max_batch_delay_ms,
               max_queue=1024, request_timeout_s=30)


# --- load generator process --------------------------------------------------------------------

def _body_for(meta: dict, rows: int, rng) -> bytes:
    """A valid request for the model's metadata: random floats, small ints, short strings."""
    inputs = []
    for t in meta["inputs"]:
        shape = [rows if i == 0 and d == -1 else (4 if d == -1 else d) for i, d in enumerate(t["shape"])]
        n = int(np.prod(shape))
        if t["datatype"].startswith("FP"):
            data = rng.standard_normal(n).round(4).tolist()
        elif t["datatype"] == "BYTES":
            data = ["hello world"] * n
        elif t["datatype"] == "BOOL":
            data = [True] * n
        else:
            data = [1] * n
        inputs.append({"name": t["name"], "shape": shape, "datatype": t["datatype"], "data": data})
    return json.dumps({"inputs": inputs}).encode()


def load(port: int, key: str, model: str, clients: int, warmup_s: float, measure_s: float, out: mp.Queue) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    req = urllib.request.Request(f"http://{HOST}:{port}/v2/models/{model}", headers=headers)
    meta = json.loads(urllib.request.urlopen(req, timeout=10).read())
    rng = np.random.default_rng(0)
    bodies = [_body_for(meta, 1, rng) for _ in range(64)]
    path = f"/v2/models/{model}/infer"
    t0 = time.perf_counter()
    start, stop = t0 + warmup_s, t0 + warmup_s + measure_s
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        k = i
        while True:
            sent = time.perf_counter()
            if sent >= stop:
                break
            body = bodies[k % len(bodies)]
            k += clients
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            done = time.perf_counter()
            if sent >= start and done <= stop:  # only requests wholly inside the window
                if ok:
                    latencies[i].append(done - sent)
                else:
                    errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"latencies": [x for lat in latencies for x in lat], "errors": sum(errors), "window_s": measure_s})


# --- orchestration -----------------------------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode} before it was ready")
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/v2/health/ready", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not become ready in time")


def _server_stats(port: int, key: str, model: str) -> dict:
    """Mean rows per predict call and model time per row, from the server's own /metrics."""
    req = urllib.request.Request(f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {key}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        for name in ("batch_size_sum", "batch_size_count", "predict_seconds_sum"):
            if line.startswith(f'dlbench_{name}{{model="{model}"}}'):
                values[name] = float(line.split()[-1])
    rows = max(values.get("batch_size_sum", 0), 1)
    return {"mean_batch": rows / max(values.get("batch_size_count", 0), 1),
            "model_ms_per_row": 1000 * values.get("predict_seconds_sum", 0) / rows}


def measure(args, key_file: Path, key: str, max_batch_size: int, delay_ms: float) -> dict:
    port = _free_port()
    cmd = [sys.executable, __file__, "--_serve", "--port", str(port), "--keys", str(key_file),
           "--max-batch-size", str(max_batch_size), "--max-batch-delay-ms", str(delay_ms),
           "--torch-threads", str(args.torch_threads)] + (["--run", args.run] if args.run else [])
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(port, server)
        model = args.model or _model_name(port, key)
        out: mp.Queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(
            target=load, args=(port, key, model, args.clients, args.warmup_s, args.measure_s, out))
        proc.start()
        result = out.get(timeout=args.warmup_s + args.measure_s + 120)
        proc.join(30)
        stats = _server_stats(port, key, model)
    finally:
        server.terminate()  # SIGTERM: uvicorn's graceful shutdown
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    lat = sorted(result["latencies"])
    if not lat:
        raise SystemExit(f"no successful requests (errors: {result['errors']}); server stderr:\n{server.stderr.read()[-3000:]}")
    q = statistics.quantiles(lat, n=100)
    return {"req_s": len(lat) / result["window_s"], "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "errors": result["errors"], "requests": len(lat), **stats}


def _model_name(port: int, key: str) -> str:
    # The v2 protocol has no model list; the 404 for an unknown model names the served ones.
    req = urllib.request.Request(f"http://{HOST}:{port}/v2/models/-", headers={"Authorization": f"Bearer {key}"})
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        return json.loads(e.read())["error"].split("served models: ")[1].split(",")[0].strip()
    raise SystemExit("cannot find the served model's name; pass --model")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="serve this run directory (load_predictor) instead of the random CNN")
    p.add_argument("--model", help="model name to query (default: the one served)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--warmup-s", type=float, default=2.0)
    p.add_argument("--measure-s", type=float, default=8.0)
    p.add_argument("--max-batch-size", type=int, default=64, help="for the batching-on run")
    p.add_argument("--max-batch-delay-ms", type=float, default=5.0)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3,
                   help="off/on pairs, alternating which goes first; medians are reported (shared machines are noisy)")
    p.add_argument("--_serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--keys", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._serve:
        return serve(args)

    from dlbench.serve.auth import add_key

    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "keys.json"
        key = add_key(key_file, "bench")
        print(f"{args.clients} clients, {args.warmup_s:g}s warm-up + {args.measure_s:g}s measured per mode, "
              f"cpu_count={os.cpu_count()}, torch threads={args.torch_threads}, "
              f"model={'run ' + args.run if args.run else 'random mnist1d-cnn'}, load average {_load()}")
        # (label, max_batch_size, max_batch_delay_ms). "no delay" is Triton's default: batch only
        # what queued up while the previous predict ran, never wait for a batch to fill.
        modes = [("batching off", 1, args.max_batch_delay_ms), ("batching on", args.max_batch_size, args.max_batch_delay_ms),
                 ("on, no delay", args.max_batch_size, 0.0)]
        runs: dict[str, list[dict]] = {label: [] for label, _, _ in modes}
        for rep in range(args.repeats):
            for label, size, delay in modes[:: 1 if rep % 2 == 0 else -1]:
                r = measure(args, key_file, key, size, delay)
                runs[label].append(r)
                print(f"  [{rep + 1}/{args.repeats}] {label:12s}: {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                      f"p99 {r['p99_ms']:7.2f} ms  mean batch {r['mean_batch']:5.1f}  "
                      f"model {r['model_ms_per_row']:.3f} ms/row  errors {r['errors']}", flush=True)
        keys = ("req_s", "p50_ms", "p99_ms", "mean_batch", "model_ms_per_row")
        med = {m: {k: statistics.median(r[k] for r in rs) for k in keys} for m, rs in runs.items()}
        print("median over repeats:")
        for label, size, delay in modes:
            r = med[label]
            print(f"  {label:12s} (max_batch_size={size:3d}, delay {delay:g} ms): {r['req_s']:8.1f} req/s  "
                  f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  mean batch {r['mean_batch']:5.1f}  "
                  f"model {r['model_ms_per_row']:.3f} ms/row")
        print(f"load average at the end: {_load()} (other work on this machine skews every number above)")
        off = med["batching off"]
        for label in ("batching on", "on, no delay"):
            on = med[label]
            print(f"{label} / off: throughput {on['req_s'] / off['req_s']:.2f}x   "
                  f"p50 latency {on['p50_ms'] / off['p50_ms']:.2f}x   p99 latency {on['p99_ms'] / off['p99_ms']:.2f}x   "
                  f"model time per row {on['model_ms_per_row'] / max(off['model_ms_per_row'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
