"""A config that names only the data and the family, against the tuned shipped config, family x data kind.

    .venv/bin/python bench/minimal_configs.py                 # every case but the slow ones, shipped retrained too
    .venv/bin/python bench/minimal_configs.py --all           # also the translation and GAN cases (about an hour)
    .venv/bin/python bench/minimal_configs.py digits-cnn csv-classification --no-shipped

For each case the minimal config (`data: {kind: ...}` plus `model: {name: ...}`, nothing else) and the shipped
config are trained in the same run, on the same machine, one after the other, and their test scores printed side
by side with the ratio (for a metric where lower is better, shipped / minimal). A case passes when the ratio
reaches its FRACTION: 0.95 for accuracy and BLEU, 0.85 for R2 (a few hundred rows: the split moves it by +-0.05),
0.5 for a GAN's Frechet distance (at most twice the shipped one).

`tests/integration/test_minimal_configs.py` runs the fast cases in CI against the shipped scores recorded in
SHIPPED below (each quoted from the header of its config, which a test checks).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FRACTION = {"accuracy": 0.95, "bleu": 0.95, "r2": 0.85, "classifier_fd": 0.5}
LOWER_IS_BETTER = {"classifier_fd"}


@dataclass
class Case:
    name: str
    data: dict
    family: str
    shipped: str          # the tuned config it is compared with
    metric: str           # test metric
    slow: bool = False    # minutes, not seconds: only with --all
    needs: str = ""       # a data folder this script writes first ("digits-png")
    extra: dict = field(default_factory=dict)

    def config(self, root: Path) -> dict:
        data = dict(self.data)
        if self.needs == "digits-png":
            data["path"] = str(digits_png(root))
        return {"data": data, "model": {"name": self.family}, **self.extra}


CASES = [
    Case("diabetes-mlp", {"kind": "diabetes"}, "mlp", "diabetes-mlp", "r2"),
    Case("csv-regression", {"kind": "csv", "path": "configs/data/diabetes.csv", "target": "progression"}, "mlp",
         "csv-regression", "r2"),
    Case("csv-classification", {"kind": "csv", "path": "configs/data/breast-cancer.csv", "target": "diagnosis"},
         "mlp", "csv-classification", "accuracy"),
    Case("digits-mlp", {"kind": "digits"}, "mlp", "digits-mlp", "accuracy"),
    Case("digits-cnn", {"kind": "digits"}, "cnn", "digits-cnn", "accuracy"),
    Case("image-folder-cnn", {"kind": "image-folder"}, "cnn", "digits-cnn", "accuracy", needs="digits-png"),
    Case("mnist1d-mlp", {"kind": "mnist1d"}, "mlp", "mnist1d-mlp", "accuracy"),
    Case("mnist1d-cnn", {"kind": "mnist1d"}, "cnn", "mnist1d-cnn", "accuracy"),
    Case("mnist1d-rnn", {"kind": "mnist1d"}, "rnn", "mnist1d-gru", "accuracy"),
    Case("numbers-language-transformer", {"kind": "numbers-language"}, "transformer", "numbers-language-transformer",
         "accuracy", slow=True),
    Case("numbers-en-fr-transformer", {"kind": "numbers"}, "transformer", "numbers-en-fr-transformer", "bleu",
         slow=True),
    Case("numbers-en-fr-rnn", {"kind": "numbers"}, "rnn", "numbers-en-fr-rnn", "bleu", slow=True),
    Case("digits-gan", {"kind": "digits"}, "gan", "digits-gan", "classifier_fd", slow=True),
]

# the shipped configs' test scores, as measured in their headers (tests/integration/test_minimal_configs.py
# checks each appears there), for the fast cases CI runs
SHIPPED = {"diabetes-mlp": ("test R2 0.503", 0.503), "csv-regression": ("test R2 0.446", 0.446),
           "csv-classification": ("test accuracy 0.938", 0.938), "digits-mlp": ("test accuracy 0.958", 0.958),
           "digits-cnn": ("test accuracy 0.986", 0.986)}


def digits_png(root: Path) -> Path:
    """sklearn's 1,797 digits as 8x8 grayscale PNGs in class folders: the new user's image folder."""
    from PIL import Image
    from sklearn.datasets import load_digits

    out = root / "digits-png"
    if out.is_dir():
        return out
    d = load_digits()
    for i, (img, y) in enumerate(zip(d.images, d.target)):
        (out / str(y)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((img * 255 / 16).astype(np.uint8), mode="L").save(out / str(y) / f"{i:04d}.png")
    return out


def score(result: dict, metric: str) -> float:
    return float(result["test"][metric])


def ratio(metric: str, minimal: float, shipped: float) -> float:
    return shipped / minimal if metric in LOWER_IS_BETTER else minimal / shipped


def train(config, run_dir: Path) -> tuple[dict, float]:
    import dlbench

    t = time.perf_counter()
    r = dlbench.train(config, run_dir=run_dir, quiet=True)
    return r.result, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all fast ones)")
    ap.add_argument("--all", action="store_true", help="include the slow cases")
    ap.add_argument("--no-shipped", action="store_true", help="use the SHIPPED header scores instead of retraining")
    args = ap.parse_args()
    cases = [c for c in CASES if (c.name in args.cases) if args.cases] or \
            [c for c in CASES if args.all or not c.slow]
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for c in cases:
            res, secs = train(c.config(root), root / f"min-{c.name}")
            mine = score(res, c.metric)
            if args.no_shipped and c.name in SHIPPED:
                ref, ref_secs = SHIPPED[c.name][1], float("nan")
            else:
                from dlbench.config.load import resolve_config_path

                shipped_cfg = str(resolve_config_path(c.shipped))
                sres, ref_secs = train(shipped_cfg, root / f"shipped-{c.name}")
                ref = score(sres, c.metric)
            q = ratio(c.metric, mine, ref)
            passed = q >= FRACTION[c.metric]
            ok &= passed
            row = {"case": c.name, "metric": f"test.{c.metric}", "minimal": round(mine, 4), "shipped": round(ref, 4),
                   "ratio": round(q, 3), "target": FRACTION[c.metric], "pass": passed,
                   "minimal_s": round(secs, 1), "shipped_s": round(ref_secs, 1),
                   "minimal_steps": res["training"]["steps"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'case':30} {'metric':20} {'minimal':>9} {'shipped':>9} {'ratio':>6} {'target':>6}  pass  min s  shipped s")
    for r in rows:
        print(f"{r['case']:30} {r['metric']:20} {r['minimal']:9.4f} {r['shipped']:9.4f} {r['ratio']:6.3f} "
              f"{r['target']:6.2f}  {'yes ' if r['pass'] else 'NO  '} {r['minimal_s']:6.0f} {r['shipped_s']:9.0f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
