"""A client with a key under attack by clients without one (issue 27, item 7).

    python bench/serve_hostile.py                        # 1000 idle + 100 slow bodies, 3 rounds of 10 s
    python bench/serve_hostile.py --idle 1000 --slow 100 --rounds 3 --window-s 10

One server process (default settings, the mnist1d-cnn-shaped CNN of serve_batching.py with random
weights, CPU) on a loopback port. The keyed client sends one inference request every 20 ms on a
keep-alive connection and records each latency. Rounds alternate two windows of the same length:

- unloaded: nothing else talks to the server;
- under attack: an attacker process (asyncio, no key) holds `--idle` silent connections, reopening
  each one the server closes, and `--slow` clients that POST an 8 MB Content-Length (half to
  /v2/models/NAME/infer, half to /v2/health/live) and then trickle 1 KB of body a second; when the
  server hangs up, the client opens a new connection a second later, the same cadence. Attackers use their own loopback addresses (127.0.1.x idle, 127.0.2.x
  slow, 50 and 10 connections per address), as remote clients would, under the per-client cap.

Targets: keyed p99 under attack <= 2 x unloaded p99 (pooled over the rounds, same run), and the
server's peak RSS under attack < 2 x its idle RSS (measured after warm-up, before the first round).
All traffic goes to 127.0.0.1; connection counts and durations are bounded by the arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

HOST = "127.0.0.1"
EIGHT_MB = 8 * 2**20
IDLE_PER_ADDRESS = 50
SLOW_PER_ADDRESS = 10


def raise_open_files(n: int) -> int:
    """Raise the soft RLIMIT_NOFILE to n (within the hard limit); returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        soft = n if hard == resource.RLIM_INFINITY else min(n, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


# --- server process ----------------------------------------------------------------------------

def serve(args) -> None:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).parent))
    from serve_batching import CNNPredictor

    from dlbench.serve.server import run_server

    run_server([CNNPredictor()], host=HOST, port=args.port, api_keys_path=args.keys)


# --- attacker process --------------------------------------------------------------------------

async def _idle(port: int, source: str, stop: float, stats: dict) -> None:
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
        except OSError:
            stats["connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["idle_open"] += 1
        try:
            answer = await asyncio.wait_for(reader.read(4096), timeout=max(0.1, stop - time.monotonic()))
            stats["idle_closed_by_server"] += 1
            _count_status(stats, answer)
        except (asyncio.TimeoutError, OSError):
            pass
        finally:
            stats["idle_open"] -= 1
            writer.close()


async def _slow(port: int, source: str, path: str, stop: float, stats: dict) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nContent-Length: {EIGHT_MB}\r\n\r\n"
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
        except OSError:
            stats["connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["slow_open"] += 1
        answer = b""
        try:
            writer.write(head.encode() + b"{" + b" " * 1023)
            while time.monotonic() < stop:
                await writer.drain()
                try:
                    chunk = await asyncio.wait_for(reader.read(4096), timeout=1.0)
                except asyncio.TimeoutError:
                    writer.write(b" " * 1024)  # still open and silent: one more KB of the 8 MB
                    continue
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        finally:
            stats["slow_open"] -= 1
            stats["slow_attempts"] += 1
            _count_status(stats, answer)
            writer.close()
        # Its cadence is one KB a second; cut off, it spends that second reconnecting instead.
        await asyncio.sleep(1.0)


def _count_status(stats: dict, answer: bytes) -> None:
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    key = f"status_{m.group(1).decode()}" if m else "closed_without_answer"
    stats[key] = stats.get(key, 0) + 1


def attack(port: int, model: str, n_idle: int, n_slow: int, duration_s: float, ramp_s: float, out: mp.Queue) -> None:
    raise_open_files(n_idle + n_slow + 256)
    stats = {"idle_open": 0, "slow_open": 0, "slow_attempts": 0, "idle_closed_by_server": 0, "connect_failed": 0}
    samples: list[tuple[int, int]] = []

    async def main() -> None:
        stop = time.monotonic() + duration_s
        tasks = []
        for i in range(n_idle):
            tasks.append(asyncio.create_task(_idle(port, f"127.0.1.{i // IDLE_PER_ADDRESS + 1}", stop, stats)))
            if i % 50 == 49:
                await asyncio.sleep(ramp_s * 50 / max(n_idle, 1))  # spread the connects over the ramp
        for i in range(n_slow):
            path = f"/v2/models/{model}/infer" if i % 2 == 0 else "/v2/health/live"
            tasks.append(asyncio.create_task(_slow(port, f"127.0.2.{i // SLOW_PER_ADDRESS + 1}", path, stop, stats)))
        while time.monotonic() < stop:
            samples.append((stats["idle_open"], stats["slow_open"]))
            await asyncio.sleep(0.25)
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    out.put({**stats, "samples": samples})


# --- the keyed client and the measurement -------------------------------------------------------

def keyed_client(port: int, key: str, model: str, seconds: float, interval_s: float = 0.02) -> dict:
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 40], "datatype": "FP32",
                                   "data": [0.25 * (i % 8) for i in range(40)]}]}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds
    next_at = time.perf_counter()
    while next_at < stop:
        time.sleep(max(0.0, next_at - time.perf_counter()))
        sent = time.perf_counter()
        try:
            conn.request("POST", f"/v2/models/{model}/infer", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
        if ok:
            latencies.append(time.perf_counter() - sent)
        else:
            errors += 1
        next_at += interval_s
    conn.close()
    return {"latencies": latencies, "errors": errors}


class RssSampler:
    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.recording = threading.Event()
        self.stopped = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            if self.recording.is_set():
                self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)


def _wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 120) -> None:
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


def _server_counters(port: int, key: str) -> dict[str, float]:
    req = urllib.request.Request(f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {key}"})
    text = urllib.request.urlopen(req, timeout=30).read().decode()
    found = {}
    for m in re.finditer(r'^dlbench_connections_closed_total\{reason="(\w+)"\} (\S+)$', text, re.M):
        found[m.group(1)] = float(m.group(2))
    for m in re.finditer(r'^dlbench_requests_total\{code="(\d+)",endpoint="(\w+)",model="[^"]*"\} (\S+)$', text, re.M):
        k = f"{m.group(2)} {m.group(1)}"
        found[k] = found.get(k, 0) + float(m.group(3))
    return found


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", type=int, default=1000, help="silent connections held by the attacker")
    ap.add_argument("--slow", type=int, default=100, help="slow 8 MB bodies without a key")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window-s", type=float, default=10.0, help="length of each measured window")
    ap.add_argument("--ramp-s", type=float, default=2.0, help="attack set-up before its window starts")
    ap.add_argument("--_serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._serve:
        return serve(args)
    if not (0 <= args.idle <= 5000 and 0 <= args.slow <= 1000 and 1 <= args.rounds <= 10 and 1 <= args.window_s <= 120):
        raise SystemExit("keep it bounded: --idle <= 5000, --slow <= 1000, --rounds 1..10, --window-s 1..120")
    if args.idle > 250 * IDLE_PER_ADDRESS or args.slow > 250 * SLOW_PER_ADDRESS:
        raise SystemExit("not enough loopback addresses for that many connections")
    soft = raise_open_files(args.idle + args.slow + 512)
    print(f"ulimit -n (soft) {soft}; cpu_count={os.cpu_count()}; {platform.machine()}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    from dlbench.serve.auth import add_key
    from dlbench.serve.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.json"
        key = add_key(keys, "bench")
        port = free_port(HOST)
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen([sys.executable, __file__, "--_serve", "--port", str(port), "--keys", str(keys)],
                                      stdout=log, stderr=subprocess.STDOUT)
        rss = None
        try:
            _wait_ready(port, server)
            model = "mnist1d-cnn"
            keyed_client(port, key, model, 2.0)  # warm-up: imports, first predict, allocator
            rss = RssSampler(server.pid)
            idle_rss = rss.proc.memory_info().rss
            log_before = log_path.stat().st_size
            unloaded = {"latencies": [], "errors": 0}
            attacked = {"latencies": [], "errors": 0}
            attacks = []
            ctx = mp.get_context("spawn")
            for r in range(args.rounds):
                calm = keyed_client(port, key, model, args.window_s)
                unloaded["latencies"] += calm["latencies"]
                unloaded["errors"] += calm["errors"]
                out: mp.Queue = ctx.Queue()
                attacker = ctx.Process(target=attack, args=(port, model, args.idle, args.slow,
                                                            args.ramp_s + args.window_s + 1.0, args.ramp_s, out))
                attacker.start()
                time.sleep(args.ramp_s)
                rss.recording.set()
                res = keyed_client(port, key, model, args.window_s)
                rss.recording.clear()
                attacked["latencies"] += res["latencies"]
                attacked["errors"] += res["errors"]
                attacks.append(out.get(timeout=args.ramp_s + args.window_s + 120))
                attacker.join(30)
                a = attacks[-1]
                held = a["samples"][int(4 * args.ramp_s):] or [(0, 0)]  # sampled every 0.25 s, after the ramp
                print(f"  round {r + 1}: unloaded p99 {p(calm['latencies'], 99):.2f} ms, "
                      f"under attack p99 {p(res['latencies'], 99):.2f} ms; attacker held "
                      f"{min(h[0] for h in held)}-{max(h[0] for h in held)} idle and "
                      f"{min(h[1] for h in held)}-{max(h[1] for h in held)} slow connections", flush=True)
                time.sleep(1.0)  # let the server close what the attacker left behind
            counters = _server_counters(port, key)
            log_bytes = log_path.stat().st_size - log_before
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            if rss is not None:
                rss.stopped.set()

    u99, a99 = p(unloaded["latencies"], 99), p(attacked["latencies"], 99)
    u50, a50 = p(unloaded["latencies"], 50), p(attacked["latencies"], 50)
    ratio99, rss_ratio = a99 / u99, rss.peak / idle_rss
    lat_ok, rss_ok = ratio99 <= 2.0, rss_ratio < 2.0
    statuses: dict[str, int] = {}
    for a in attacks:
        for k, v in a.items():
            if k.startswith("status_") or k == "closed_without_answer":
                statuses[k] = statuses.get(k, 0) + v
    rows = [
        ("keyed p50 latency", f"{u50:.2f} ms", f"{a50:.2f} ms", f"{a50 / u50:.2f}x", "", ""),
        ("keyed p99 latency", f"{u99:.2f} ms", f"{a99:.2f} ms", f"{ratio99:.2f}x", "<= 2x", "PASS" if lat_ok else "FAIL"),
        ("keyed requests / errors", f"{len(unloaded['latencies'])} / {unloaded['errors']}",
         f"{len(attacked['latencies'])} / {attacked['errors']}", "", "0 errors", "PASS" if not attacked["errors"] else "FAIL"),
        ("server RSS (idle / peak)", f"{idle_rss / 2**20:.0f} MiB", f"{rss.peak / 2**20:.0f} MiB", f"{rss_ratio:.2f}x",
         "< 2x", "PASS" if rss_ok else "FAIL"),
    ]
    print()
    print("| measure | unloaded | under attack | ratio | target | result |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(f"attack per round: {args.idle} idle connections + {args.slow} slow 8 MB bodies without a key; "
          f"{args.rounds} rounds x {args.window_s:g} s per condition")
    print(f"attacker saw: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
          f"slow-body attempts {sum(a['slow_attempts'] for a in attacks)}, failed connects "
          f"{sum(a['connect_failed'] for a in attacks)}")
    closed = {k: int(v) for k, v in counters.items() if " " not in k}
    fivexx = {k: int(v) for k, v in counters.items() if " 5" in k}
    print(f"server closed connections: {closed or 'none'}; 5xx answers: {fivexx or 'none'}; "
          f"server log during the rounds: {log_bytes} bytes")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("RESULT:", "PASS" if lat_ok and rss_ok and not attacked["errors"] else "FAIL")


if __name__ == "__main__":
    main()
