"""How long `dlbench --help` takes next to `python -c "import torch"`, in one run (issue 25 item 2).

    .venv/bin/python bench/cli_startup.py [--runs 15]

Each measurement is a fresh process, timed from spawn to exit with a monotonic clock; the commands are
interleaved (help, torch, help, ...) so machine noise hits both, and the medians are compared. Also
times `dlbench train --help` and `dlbench configs`, which must not load torch either, and checks in
one more process that none of them did. Target: `dlbench --help` at most 1/3 of `import torch`.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

DLBENCH = Path(sys.executable).with_name("dlbench")  # the console script pip installed beside this python
COMMANDS = {
    "dlbench --help": [str(DLBENCH), "--help"],
    "dlbench train --help": [str(DLBENCH), "train", "--help"],
    "dlbench configs": [str(DLBENCH), "configs"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}
NO_TORCH = """
import sys
from dlbench.cli import main
for words in (["--help"], ["train", "--help"], ["configs"]):
    sys.argv = ["dlbench", *words]
    try:
        main()
    except SystemExit:
        pass
print("torch" in sys.modules)
"""


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="Processes per command (after one untimed warm-up each)")
    args = ap.parse_args()
    for cmd in COMMANDS.values():  # warm the page cache: the first start of anything reads its files from disk
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    torch_loaded = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, check=True)
    torch_s = statistics.median(times['python -c "import torch"'])
    print(f"median of {args.runs} runs each, interleaved; python {sys.version.split()[0]}")
    print("| command | median | min | max | / import torch |")
    print("|---|---:|---:|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| `{name}` | {med * 1000:.0f} ms | {min(ts) * 1000:.0f} ms | {max(ts) * 1000:.0f} ms | {med / torch_s:.2f} |")
    ratio = statistics.median(times["dlbench --help"]) / torch_s
    print(f"dlbench --help / import torch = {ratio:.2f} (target <= 0.33: {'PASS' if ratio <= 1 / 3 else 'FAIL'}); "
          f"torch imported by help/configs: {torch_loaded.stdout.split()[-1]}")


if __name__ == "__main__":
    main()
