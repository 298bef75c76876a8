"""Spoken-word classification from `dlbench recommend` (issue 23 part B target: >= 95 % test accuracy in < 10 min
on a 2-core CPU, about 100 clips per class, 10 classes).

    .venv/bin/python bench/audio_keywords.py [--data DIR] [--work DIR]

1. Writes the spoken-digit folder with scripts/make_spoken_digits.sh (espeak-ng, installed with apt as root;
   1,000 clips of the words zero..nine) unless --data names one.
2. `dlbench recommend DIR --output kw.yaml`, then `dlbench train kw.yaml`: the clock runs from the start of
   `train` (decoding the clips and computing their features included, on an empty feature cache) to its end
   (the test set evaluated), in wall time and in the CPU time of the process.
3. The baseline, in the same run on the same features: an MLP over the flattened log-mel spectrogram with the
   recommended training settings. Printed side by side with the ratios; PASS/FAIL against the target.
The load average is printed too: on a shared VM other processes stretch the wall time, not the CPU time.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DLBENCH = Path(sys.executable).with_name("dlbench")
TARGET_ACCURACY, TARGET_SECONDS = 0.95, 600.0


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train(cfg: Path, run_dir: Path, env: dict) -> dict:
    cpu0, t0 = child_cpu(), time.perf_counter()
    subprocess.run([str(DLBENCH), "train", str(cfg), "--run-dir", str(run_dir)], check=True, env=env)
    wall, cpu = time.perf_counter() - t0, child_cpu() - cpu0
    result = json.loads((run_dir / "result.json").read_text())
    return {"wall_s": wall, "cpu_s": cpu, "test_accuracy": result["test"]["accuracy"],
            "val_accuracy": result["val"]["accuracy"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="an existing folder of class sub-folders (default: write the spoken digits)")
    ap.add_argument("--work", help="where configs, runs and the feature cache go (default: a new temporary folder)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="dlbench-audio-"))
    work.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else work / "speech"
    if not args.data:
        subprocess.run(["bash", str(REPO / "scripts" / "make_spoken_digits.sh"), str(data)], check=True)
    env = {**os.environ, "DLBENCH_CACHE_DIR": str(work / "cache")}  # empty: the clock includes the features
    subprocess.run([str(DLBENCH), "recommend", str(data), "--output", str(work / "kw.yaml")], check=True, env=env)
    cfg = yaml.safe_load((work / "kw.yaml").read_text())
    base = {**cfg, "name": "kw-mlp-baseline", "optim": cfg.get("optim", {}),
            "model": {"name": "mlp", "hidden": [128, 128], "dropout": 0.2}}
    (work / "baseline.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    rec = train(work / "kw.yaml", work / "runs" / "kw", env)
    load_mid = os.getloadavg()[0]
    mlp = train(work / "baseline.yaml", work / "runs" / "baseline", env)  # its features come from the cache
    print(f"\nload average after the recommended run: {load_mid:.1f}, after the baseline: {os.getloadavg()[0]:.1f}")
    print(f"{'':28}{'recommended (' + cfg['model']['name'] + ')':>22}{'baseline (mlp)':>18}{'ratio':>8}")
    for key, label in (("test_accuracy", "test accuracy"), ("val_accuracy", "val accuracy"),
                       ("wall_s", "train wall time (s)"), ("cpu_s", "train CPU time (s)")):
        a, b = rec[key], mlp[key]
        print(f"{label:28}{a:>22.4g}{b:>18.4g}{a / b if b else float('nan'):>8.2f}")
    ok = rec["test_accuracy"] >= TARGET_ACCURACY and rec["wall_s"] < TARGET_SECONDS
    print(f"\ntarget: test accuracy >= {TARGET_ACCURACY:.0%} in < {TARGET_SECONDS / 60:.0f} min wall: "
          f"{'PASS' if ok else 'FAIL'} ({rec['test_accuracy']:.1%} in {rec['wall_s'] / 60:.1f} min)")
    print(f"config: {work / 'kw.yaml'}; runs: {work / 'runs'}")


if __name__ == "__main__":
    main()
