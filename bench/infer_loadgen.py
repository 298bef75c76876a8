"""Inference under MLPerf LoadGen: batching in-process, and the HTTP server against in-process.

    python bench/infer_loadgen.py runs/m1                  # 3 interleaved rounds of 5 s tests
    python bench/infer_loadgen.py runs/m1 --rounds 5 --duration 10 --threads 1

Each round runs, through `dlbench bench infer`'s library call (LoadGen generates the load):
  1. in-process SingleStream   -> samples/s = 1 / mean latency
  2. in-process Offline        -> samples/s
  3. HTTP Offline against a `dlbench serve` of the same run started here (its own process,
     loopback port, API key, dynamic batching up to --server-batch rows)
Rounds are interleaved so a change of machine load hits all three alike. Prints the medians and
the two ratios: Offline / SingleStream (batching) and HTTP / in-process Offline (serving cost).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = """
import sys, torch
torch.set_num_threads(int(sys.argv[4]))
from dlbench.serve.runs import load_predictor
from dlbench.serve.server import run_server
run_server([load_predictor(sys.argv[1], device="cpu")], port=int(sys.argv[2]), api_keys_path=sys.argv[3],
           max_batch_size=int(sys.argv[5]))
"""


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per LoadGen test")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, here and in the server")
    ap.add_argument("--batch-size", type=int, default=256, help="in-process Offline batch")
    ap.add_argument("--http-batch", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--server-batch", type=int, default=1024, help="the server's --max-batch-size")
    a = ap.parse_args()

    from dlbench.bench.infer.runner import InferOptions, run_infer
    from dlbench.serve.auth import add_key
    from dlbench.serve.server import free_port

    tmp = Path(tempfile.mkdtemp(prefix="dlbench-infer-bench-"))
    key = add_key(tmp / "keys.json", "bench")
    (tmp / "ci.key").write_text(key)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, a.run_dir, str(port), str(tmp / "keys.json"),
                               str(a.threads), str(a.server_batch)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        common = dict(duration_s=a.duration, threads=a.threads, advice=False, out=str(tmp / "results"), system="bench")
        runs = {"in-process single-stream": InferOptions(scenario="single-stream", **common),
                "in-process offline": InferOptions(scenario="offline", batch_size=a.batch_size, **common),
                "http offline": InferOptions(scenario="offline", url=url, api_key_file=str(tmp / "ci.key"),
                                             http_batch=a.http_batch, concurrency=a.concurrency, **common)}
        got: dict[str, list[float]] = {k: [] for k in runs}
        print(f"load average before: {load()}  ({os.cpu_count()} CPUs)")
        for r in range(a.rounds):
            for name, opts in runs.items():
                doc = run_infer(a.run_dir, opts)
                got[name].append(doc["samples_per_s"])
                print(f"round {r + 1} {name:26s} {doc['samples_per_s']:10.0f} samples/s  {doc['verdict']}"
                      f"  (mean batch {doc['mean_batch']:.1f}; load {load()})", flush=True)
        med = {k: statistics.median(v) for k, v in got.items()}
        print(f"load average after: {load()}")
        print("\nmedian samples/s: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()))
        print(f"Offline / SingleStream (in-process): {med['in-process offline'] / med['in-process single-stream']:.1f}x")
        print(f"HTTP Offline / in-process Offline:   {med['http offline'] / med['in-process offline']:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
