"""Write the example CSVs the shipped csv-* configs train on (src/dlbench/configs/data/), from datasets bundled
with scikit-learn (nothing is downloaded). Deterministic: rerunning it rewrites the same bytes.

    .venv/bin/python scripts/make_example_data.py

breast-cancer.csv   569 rows: the 10 mean cell-nucleus measurements (of sklearn's 30 columns) and `diagnosis`
                    (malignant / benign): classification
mnist1d-signals.csv 10 new MNIST-1D signals (generator seed 7, one per class; not in the dataset the shipped
                    mnist1d configs train on), 40 columns t0..t39 and no label: inputs for `dlbench predict`
diabetes.csv        442 rows: age, sex, body mass index, blood pressure, six blood serum measurements and
                    `progression` (disease progression one year later, 25-346): regression
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from sklearn.datasets import load_breast_cancer, load_diabetes

OUT = Path(__file__).resolve().parent.parent / "src" / "dlbench" / "configs" / "data"

# sklearn's diabetes names its serum measurements s1..s6; the dataset's documentation says what they are
DIABETES_NAMES = {"age": "age", "sex": "sex", "bmi": "bmi", "bp": "blood_pressure", "s1": "total_cholesterol",
                  "s2": "ldl", "s3": "hdl", "s4": "cholesterol_hdl_ratio", "s5": "log_triglycerides",
                  "s6": "blood_sugar"}


def _num(v: float) -> str:
    """At most 5 significant digits, no trailing zeros (the source data has no more)."""
    return f"{v:.5g}"


def write(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    bc = load_breast_cancer()
    keep = [i for i, n in enumerate(bc.feature_names) if n.startswith("mean ")]  # the other 20: errors, worst
    names = [re.sub(r"[^a-z0-9]+", "_", bc.feature_names[i].removeprefix("mean ")).strip("_") for i in keep]
    write(OUT / "breast-cancer.csv", [*names, "diagnosis"],
          ([*map(_num, x[keep]), bc.target_names[y]] for x, y in zip(bc.data, bc.target)))
    db = load_diabetes(scaled=False)
    write(OUT / "diabetes.csv", [*(DIABETES_NAMES[n] for n in db.feature_names), "progression"],
          ([*map(_num, x), _num(y)] for x, y in zip(db.data, db.target)))
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = 200, 7
    d = make_dataset(args)
    rows = [d["x"][list(d["y"]).index(c)] for c in range(10)]  # one signal of each class, in class order
    write(OUT / "mnist1d-signals.csv", [f"t{i}" for i in range(40)], ([_num(v) for v in x] for x in rows))


if __name__ == "__main__":
    main()
