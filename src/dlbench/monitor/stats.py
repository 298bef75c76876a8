"""Drift of live values against a feature's reference: the population stability index and a two-sample test.

PSI = sum over bins of (live - ref) * ln(live / ref), bins being the training deciles (numeric) or the categories
plus "unseen" (categorical); both shares are floored at EPS so an empty bin does not give infinity. Rules of thumb:
below 0.1 stable, 0.1-0.25 moderate, above 0.25 a real shift. The test says whether the difference is more than
chance: scipy's two-sample Kolmogorov-Smirnov test against the stored reference sample (numeric), or the chi-square
test of the two count tables (categorical). The Wasserstein distance (scipy) is reported in training standard
deviations, as an effect size a person can read ("the feature moved by about 2 sigma").

A feature has drifted when its PSI reaches the PSI threshold AND the test's p-value is below the p-value threshold:
the PSI alone is noisy on a small window, the p-value alone flags negligible shifts on a large one.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from dlbench.monitor.profile import FeatureRef

EPS = 1e-4


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    pvalue: float = 0.01
    min_rows: int = 100
    """Fewer live rows than this: no score yet (a PSI over a handful of rows is noise)."""


@dataclass
class Score:
    feature: str
    kind: str
    rows: int
    psi: float | None = None
    test: str = ""
    statistic: float | None = None
    pvalue: float | None = None
    wasserstein: float | None = None
    """In training standard deviations (numeric features only)."""
    out_of_range: float = 0.0
    """Share of live rows outside the training [min, max] (numeric) or in an unseen category."""
    drifted: bool = False

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def psi(reference: np.ndarray, live: np.ndarray) -> float:
    ref = np.maximum(np.asarray(reference, dtype=np.float64), EPS)
    cur = np.maximum(np.asarray(live, dtype=np.float64), EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def live_proportions(ref: FeatureRef, values: np.ndarray) -> np.ndarray:
    if ref.kind == "categorical":
        counts = np.bincount(np.clip(values, 0, len(ref.categories)).astype(np.int64), minlength=len(ref.categories) + 1)
    else:
        counts = np.bincount(np.searchsorted(ref.edges, values, side="right"), minlength=len(ref.edges) + 1)
    return counts / max(len(values), 1)


def score(ref: FeatureRef, values: np.ndarray, th: Thresholds, ks=None) -> Score:
    """The drift of `values` (live rows of one feature, as `Extractor.extract` gives them) against `ref`.
    ks: (statistic, p-value) of the KS test when `score_all` ran it for many features at once."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if ref.kind == "categorical":
        oor = float(np.mean(values >= len(ref.categories))) if n else 0.0
    else:
        oor = float(np.mean((values < ref.min) | (values > ref.max))) if n else 0.0
    out = Score(ref.name, ref.kind, n, out_of_range=oor)
    if n < max(th.min_rows, 1):
        return out
    live = live_proportions(ref, values)
    out.psi = psi(ref.proportions, live)
    if ref.kind == "categorical":
        out.test = "chi2"
        table = np.stack([ref.proportions * 10_000, live * n])  # the reference as a large sample of its shares
        table = table[:, table.sum(0) > 0]
        if table.shape[1] > 1:
            res = stats.chi2_contingency(table)
            out.statistic, out.pvalue = float(res.statistic), float(res.pvalue)
        else:  # one category on both sides: nothing differs
            out.statistic, out.pvalue = 0.0, 1.0
    else:
        out.test = "ks"
        stat, p = ks if ks is not None else _ks(ref.sample, values)
        out.statistic, out.pvalue = float(stat), float(p)
        out.wasserstein = float(stats.wasserstein_distance(ref.sample, values)) / ref.scale
    out.drifted = bool(out.psi >= th.psi and out.pvalue < th.pvalue)
    return out


def _ks(reference: np.ndarray, live: np.ndarray, axis: int = 0):
    """scipy's two-sample KS test, its asymptotic p-value (windows are large; the exact path is slow), along `axis`
    for many features at once."""
    with warnings.catch_warnings():  # exact p-values on ties warn; the asymptotic one is what we want
        warnings.simplefilter("ignore")
        res = stats.ks_2samp(reference, live, method="asymp", axis=axis)
    return res.statistic, res.pvalue


def score_all(refs: list[FeatureRef], rows: np.ndarray, th: Thresholds) -> list[Score]:
    """One Score per feature of a [rows, features] matrix. The KS tests of the numeric features run as one
    vectorized scipy call (half the time of one call per feature) when their reference samples have one length."""
    ks: dict[int, tuple[float, float]] = {}
    numeric = [j for j, r in enumerate(refs) if r.kind == "numeric"]
    if len(rows) >= max(th.min_rows, 1) and len(numeric) > 1 and len({len(refs[j].sample) for j in numeric}) == 1:
        stat, p = _ks(np.stack([refs[j].sample for j in numeric], axis=1), rows[:, numeric])
        ks = {j: (float(a), float(b)) for j, a, b in zip(numeric, stat, p)}
    return [score(r, rows[:, j], th, ks.get(j)) for j, r in enumerate(refs)]


def verdict(inputs: list[Score], outputs: list[Score]) -> tuple[str, str]:
    """(tone, one line): "good" no drift, "bad" drift, "note" too few rows to tell."""
    scored = [s for s in inputs + outputs if s.psi is not None]
    if not scored:
        rows = max((s.rows for s in inputs + outputs), default=0)
        return "note", f"not enough rows to score drift ({rows} live rows)"
    drifted_in = [s.feature for s in inputs if s.drifted]
    drifted_out = [s.feature for s in outputs if s.drifted]
    if not drifted_in and not drifted_out:
        return "good", f"no drift: all {len(scored)} features stay within the thresholds"
    parts = []
    if drifted_in:
        parts.append(f"{len(drifted_in)} input feature(s) drifted ({', '.join(drifted_in[:8])}"
                     f"{', ...' if len(drifted_in) > 8 else ''})")
    if drifted_out:
        parts.append(f"the predictions drifted ({', '.join(drifted_out)})")
    return "bad", "drift: " + "; ".join(parts)
