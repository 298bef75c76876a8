"""Write src/dlbench/configs/data/co2-weekly.csv, the real weekly series with gaps that the shipped forecasting
config trains on, from the Mauna Loa weekly CO2 record that statsmodels bundles (public domain; Keeling & Whorf,
SIO/CDIAC, March 1958 - December 2001, 2,284 Saturdays).

statsmodels' copy lists every week and leaves 59 weeks without a measurement empty (instrument downtime,
mostly 1958-1964, the longest 18 weeks from January 1964). This script keeps the measured weeks only, as raw
data arrives: the 59 weeks are then missing timestamps (gaps in the weekly grid), which is what dlbench's
`missing` policy handles. Dates become ISO (1958-03-29); values are copied as written (ppm, one decimal).
Deterministic: rerunning it rewrites the same bytes.

    .venv/bin/python scripts/make_co2_weekly.py [PATH/TO/statsmodels/datasets/co2/co2.csv]

Without a path it reads the file from an installed statsmodels.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "dlbench" / "configs" / "data" / "co2-weekly.csv"


def source() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    import statsmodels.datasets.co2 as co2  # only needed to locate the bundled file

    return Path(co2.__file__).parent / "co2.csv"


def main() -> None:
    with open(source(), newline="") as f:
        rows = list(csv.reader(f))[1:]
    kept = [(f"{d[:4]}-{d[4:6]}-{d[6:]}", v) for d, v in rows if v.strip()]
    with open(OUT, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["date", "co2"])
        w.writerows(kept)
    print(f"wrote {OUT}: {len(kept)} of {len(rows)} weeks measured, {len(rows) - len(kept)} missing")


if __name__ == "__main__":
    main()
