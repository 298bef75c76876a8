"""Reading what LoadGen wrote: mlperf_log_summary.txt (verdict, figures, why) and mlperf_log_accuracy.json.

The summary is LoadGen's human-readable report, one "key : value" per line, e.g.

    Scenario : Offline
    Samples per second: 29362.7
    Result is : INVALID
      Min duration satisfied : NO
    Recommendations:
     * Increase expected QPS so the loadgen pre-generates a larger (coalesced) query.
    90.00 percentile latency (ns)   : 3454432

It is parsed rather than recomputed, so dlbench reports exactly LoadGen's verdict and numbers.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from dlbench.errors import UserError

# The scenario's headline figure, as LoadGen names it in the summary.
HEADLINE = {"SingleStream": "90.0th percentile latency (ns)", "MultiStream": "99.0th percentile latency (ns)",
            "Server": "Completed samples per second", "Offline": "Samples per second"}
_LATENCIES = {"min": "Min latency (ns)", "max": "Max latency (ns)", "mean": "Mean latency (ns)",
              "p50": "50.00 percentile latency (ns)", "p90": "90.00 percentile latency (ns)",
              "p95": "95.00 percentile latency (ns)", "p99": "99.00 percentile latency (ns)",
              "p99.9": "99.90 percentile latency (ns)"}


def _number(v: str):
    try:
        return float(v)
    except ValueError:
        return v


def read_summary(path: str | Path) -> dict:
    """{scenario, mode, valid, reasons, recommendations, headline, latency_ms, values} of a summary file."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"LoadGen wrote no summary at {p}", "the test did not run to the end")
    values: dict = {}
    reasons, recommendations, early = [], [], []
    section = None
    for raw in p.read_text().splitlines():
        line = raw.strip()
        if line.startswith("Recommendations:"):
            section = "rec"
            continue
        if line.startswith("Early Stopping Result:"):
            section = "early"
            continue
        if line.startswith("====") or not line:
            section = None if line.startswith("====") else section
            continue
        if line.startswith("*") and section in ("rec", "early"):
            (recommendations if section == "rec" else early).append(line.lstrip("* ").strip())
            continue
        m = re.match(r"^(.+?)\s*:\s*(.*)$", line)
        if not m:
            if section == "early" and early:  # a bullet wrapped onto the next line
                early[-1] += " " + line
            continue
        key, value = m.group(1).strip(), m.group(2).strip()
        if key.endswith("satisfied") and value.upper() == "NO":
            reasons.append(f"{key[0].lower()}{key[1:]}: no")
        values.setdefault(key, _number(value))
    scenario = str(values.get("Scenario", ""))
    result = str(values.get("Result is", ""))
    if result not in ("VALID", "INVALID") and "errors encountered" not in p.read_text():
        raise UserError(f"{p} is not a LoadGen summary (no 'Result is : VALID|INVALID' line)")
    headline = values.get(HEADLINE.get(scenario, ""), None)
    latency_ms = {k: values[v] / 1e6 for k, v in _LATENCIES.items() if isinstance(values.get(v), float)}
    # Accuracy mode's summary has no verdict (valid: None): LoadGen only logs the outputs then.
    return {"scenario": scenario, "mode": values.get("Mode"), "valid": None if not result else result == "VALID",
            "reasons": reasons, "recommendations": recommendations, "early_stopping": early,
            "headline": headline if isinstance(headline, float) else None, "latency_ms": latency_ms,
            "values": values}


def read_accuracy_log(path: str | Path) -> dict[int, bytes]:
    """qsl_idx -> the bytes the SUT returned for that sample (first occurrence), from mlperf_log_accuracy.json."""
    p = Path(path)
    try:
        entries = json.loads(p.read_text() or "[]")
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read LoadGen's accuracy log {p}: {e}") from None
    out: dict[int, bytes] = {}
    for e in entries:
        out.setdefault(int(e["qsl_idx"]), bytes.fromhex(e["data"]))
    return out
