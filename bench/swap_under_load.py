"""A model version swap under concurrent clients: no request may fail (issue 24, part B).

    python bench/swap_under_load.py                          # 32 clients, 2 windows of 15 s, a swap every 1 s
    python bench/swap_under_load.py --clients 32 --window-s 15 --swap-every-s 1

Two tiny MNIST-1D CNN runs (another seed each) are trained into a temporary directory and served by a
real `dlbench serve run` process (API keys on, one admin and one inference key, CPU) on a loopback port.
`--clients` threads each send one-row inference requests to the unversioned URL back to back on their
own keep-alive connection, for two windows of the same length:

- steady: nothing changes on the server;
- swapping: every `--swap-every-s` seconds an admin call (POST /v2/repository/models/cnn/load, the call
  tritonclient's load_model makes) replaces the served version by the other run: version 1 <-> 2, each
  load verified from disk, the old version drained.

Target: zero failed requests while swapping (any status other than 200, or a connection error). Also
printed, steady vs swapping in the same run: requests per second, p50/p99 latency, and the versions that
answered. Every call is real HTTP; nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def train_runs(root: Path) -> tuple[Path, Path]:
    import dlbench

    runs = []
    for seed in (0, 1):
        cfg = {"name": f"swap-{seed}", "data": {"kind": "mnist1d", "num_samples": 600},
               "model": {"name": "cnn", "stages": [{"channels": 8, "kernel": 3, "stride": 2}]},
               "optim": {"lr": 3e-3}, "train": {"steps": 40, "batch_size": 32, "seed": seed, "eval_every": 20}}
        runs.append(dlbench.train(cfg, run_dir=root / f"run{seed}").run_dir)
    return runs[0], runs[1]


def start_server(run: Path, keys: Path, audit: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dlbench.cli", "serve", "run", f"cnn:1={run}", "--port", str(port),
           "--api-keys", str(keys), "--audit-log", str(audit), "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/v2/health/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 120 s")


def window(url: str, key: str, clients: int, seconds: float, swap=None) -> dict:
    """`clients` threads for `seconds`; `swap()`, if given, is called from here meanwhile."""
    body = {"inputs": [{"name": "input", "shape": [1, 1, 40], "datatype": "FP32", "data": [0.1] * 40}]}
    stop = threading.Event()
    lat, failures, versions, lock = [], [], {}, threading.Lock()

    def client():
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    r = c.post(f"{url}/v2/models/cnn/infer", json=body)
                    ok, what = r.status_code == 200, r.status_code
                except httpx.HTTPError as e:
                    ok, what = False, type(e).__name__
                dt = time.perf_counter() - t0
                with lock:
                    if ok:
                        lat.append(dt)
                        v = r.json()["model_version"]
                        versions[v] = versions.get(v, 0) + 1
                    else:
                        failures.append(what)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    swaps = swap(start + seconds) if swap else 0
    time.sleep(max(0.0, start + seconds - time.perf_counter()))
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [float("nan")] * 99
    return {"requests": len(lat) + len(failures), "failed": len(failures), "failures": sorted(set(map(str, failures))),
            "rps": len(lat) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "versions": versions,
            "swaps": swaps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--window-s", type=float, default=15.0)
    ap.add_argument("--swap-every-s", type=float, default=1.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from dlbench.serve.auth import add_key
    from dlbench.serve.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run1, run2 = train_runs(root)
        keys, audit = root / "keys.json", root / "audit.jsonl"
        admin, user = add_key(keys, "bench-admin", role="admin"), add_key(keys, "bench-client")
        port = args.port or free_port()
        url = f"http://{HOST}:{port}"
        server = start_server(run1, keys, audit, port)
        try:
            window(url, user, args.clients, 2.0)  # warm-up: connections, first batches
            steady = window(url, user, args.clients, args.window_s)
            load_failures: list[str] = []

            def swapper(end: float) -> int:
                n, targets = 0, [{"2": str(run2)}, {"1": str(run1)}]
                with httpx.Client(headers={"Authorization": f"Bearer {admin}"}, timeout=120) as c:
                    while time.perf_counter() + args.swap_every_s < end:
                        time.sleep(args.swap_every_s)
                        r = c.post(f"{url}/v2/repository/models/cnn/load",
                                   json={"parameters": {"config": json.dumps({"versions": targets[n % 2]})}})
                        if r.status_code != 200:
                            load_failures.append(f"{r.status_code} {r.text[:200]}")
                        n += 1
                return n

            swapping = window(url, user, args.clients, args.window_s, swap=swapper)
        finally:
            server.terminate()
            server.wait(timeout=60)
        audited = sum(1 for line in audit.read_text().splitlines() if json.loads(line)["action"] == "load")

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{args.clients} clients, windows of {args.window_s:g} s, a swap every {args.swap_every_s:g} s\n")
    print("| measure | steady | swapping | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| requests | {steady['requests']} | {swapping['requests']} | |")
    print(f"| failed requests | {steady['failed']} | {swapping['failed']} | |")
    print(f"| requests / s | {steady['rps']:.0f} | {swapping['rps']:.0f} | {swapping['rps'] / steady['rps']:.2f}x |")
    print(f"| p50 latency | {steady['p50_ms']:.1f} ms | {swapping['p50_ms']:.1f} ms | "
          f"{swapping['p50_ms'] / steady['p50_ms']:.2f}x |")
    print(f"| p99 latency | {steady['p99_ms']:.1f} ms | {swapping['p99_ms']:.1f} ms | "
          f"{swapping['p99_ms'] / steady['p99_ms']:.2f}x |")
    print(f"| versions answering | {steady['versions']} | {swapping['versions']} | |")
    print(f"\nswaps: {swapping['swaps']} loads ({audited} in the audit log), failed loads: {load_failures or 'none'}")
    if swapping["failures"]:
        print(f"failures while swapping: {swapping['failures']}")
    ok = swapping["failed"] == 0 and steady["failed"] == 0 and not load_failures and swapping["swaps"] > 0
    print(f"target: zero failed requests during {swapping['swaps']} swaps under {args.clients} clients: "
          f"{'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
