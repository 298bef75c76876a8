"""Forecasting benchmark: `dlbench recommend` on a real weekly series with gaps, then train; every family on the
same windows; each model's test MAE as a ratio of the seasonal-naive and last-value baselines' MAE on those
windows, scored in the same run.

    .venv/bin/python bench/forecast_co2.py                      # recommend + all four families
    .venv/bin/python bench/forecast_co2.py --families cnn       # only the recommended config

Data: src/dlbench/configs/data/co2-weekly.csv (Mauna Loa weekly CO2 1958-2001, 59 missing weeks; see
scripts/make_co2_weekly.py). The clock of the target (MASE < 1 and below the last value, in under 5 minutes)
runs from `recommend` to the end of training and the one test evaluation. Wall and CPU (user+system) times
are printed with the load average: the development VM has 2 cores shared with other jobs.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "src" / "dlbench" / "configs" / "data" / "co2-weekly.csv"
OTHERS = {  # the other families on the recommended config's windows, optimizer and training length
    "mlp": {"name": "mlp", "hidden": [128, 128], "dropout": 0.1},
    "rnn": {"name": "rnn", "cell": "gru", "hidden_size": 64, "bidirectional": False, "pooling": "last"},
    "transformer": {"name": "transformer", "d_model": 32, "heads": 4, "layers": 2, "dropout": 0.1},
}


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="cnn,mlp,rnn,transformer")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from dlbench.api import train
    from dlbench.recommend import recommend

    work = Path(tempfile.mkdtemp(prefix="forecast-bench-"))
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), cpu_seconds()
    rec = recommend(DATA, target="co2", output=work / "co2.yaml")
    cfg = copy.deepcopy(rec.config)
    cfg["train"]["threads"] = args.threads
    rows = []
    for family in args.families.split(","):
        c = copy.deepcopy(cfg)
        if family != rec.written_family:
            c["model"] = OTHERS[family]
        t1, c1 = time.perf_counter(), cpu_seconds()
        r = train(c, run_dir=work / family).result
        wall = time.perf_counter() - (t0 if family == rec.written_family else t1)
        cpu = cpu_seconds() - (c0 if family == rec.written_family else c1)
        rows.append((family, r, wall, cpu))
        print(f"{family}: test MASE {r['test']['mase']:.3f} in {wall:.0f} s", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    base = rows[0][1]["test"]["baselines"]
    sn, nv = base["seasonal_naive"], base["naive"]
    print(f"data: {DATA.name}, horizon {cfg['data']['horizon']}, context {cfg['data']['context']}, "
          f"{rows[0][1]['data']['test']} test windows; recommended: {rec.title}")
    print("| forecast | val MASE | test MASE | test MAE | test sMAPE % | MAE / seasonal naive | MAE / last value |"
          " wall s | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for family, r, wall, cpu in rows:
        t = r["test"]
        tag = " (recommended; clock from recommend)" if family == rec.written_family else ""
        print(f"| {family}{tag} | {r['val']['mase']:.3f} | {t['mase']:.3f} | {t['mae']:.3f} | {t['smape']:.3f} | "
              f"{t['mae'] / sn['mae']:.2f}x | {t['mae'] / nv['mae']:.2f}x | {wall:.0f} | {cpu:.0f} |")
    for name, key in (("seasonal naive", "seasonal_naive"), ("last value", "naive")):
        b = base[key]
        print(f"| {name} | {rows[0][1]['val']['baselines'][key]['mase']:.3f} | {b['mase']:.3f} | {b['mae']:.3f} | "
              f"{b['smape']:.3f} | {b['mae'] / sn['mae']:.2f}x | {b['mae'] / nv['mae']:.2f}x | | |")
    r0 = rows[0][1]
    ok = r0["test"]["mase"] < 1 and r0["test"]["mae"] < nv["mae"] and rows[0][2] < 300
    print(f"target (recommended model: test MASE < 1, below the last value, under 300 s): "
          f"{'PASS' if ok else 'FAIL'} (MASE {r0['test']['mase']:.3f}, {rows[0][2]:.0f} s)")
    print(f"load average before {load0[0]:.1f}, after {load1[0]:.1f} (1 min); runs in {work}")
    print(json.dumps({f: {"test": r["test"]["mase"], "wall": w} for f, r, w, _ in rows}))


if __name__ == "__main__":
    main()
