"""MLPerf Training scoring of a set of time-to-train runs.

The rule mirrored here is mlperf_logging 4.1.68's result summarizer,
`result_summarizer._compute_strong_score_standalone` and `_compute_olympic_average`:

* every run that did not converge (its result file fails the compliance check) is
  "dropped"; with more dropped runs than `max_dropped_scores` (1; 4 for unet3d) the
  summarizer prints "CRITICAL ERROR: Too many non-converging runs" and reports no score;
* the converged times are sorted and `scores[max_dropped:len - (max_dropped - dropped)]`
  is averaged, i.e. the fastest `max_dropped` runs are always dropped, and each
  non-converged run takes the place of one of the slowest ones that would be dropped;
* if nothing is left to average the summarizer returns None (no score).

The minimum number of runs per benchmark (`benchmark_meta._ALL_RESULT_FILE_COUNTS`,
e.g. 5 or 10) is what the package checker requires of a submission; here fewer runs
still give a number, flagged `official=False`, because a quick local estimate is useful.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Iterable, Sequence


@dataclass(frozen=True)
class RunResult:
    """One time-to-train run: seconds from run_start to run_stop, and whether it reached the target."""

    time_to_train_s: float
    converged: bool


@dataclass(frozen=True)
class Score:
    """The benchmark's score over its runs (olympic mean of time-to-train, in seconds)."""

    olympic_mean_s: float | None  # None when `valid` is False
    valid: bool
    official: bool  # valid and at least `min_runs` runs
    n_runs: int
    n_converged: int
    min_runs: int
    median_s: float | None  # over converged runs
    stdev_s: float | None  # sample standard deviation over converged runs (needs 2)
    used_times_s: tuple[float, ...] = field(default=())  # the times that were averaged
    reason: str = ""  # why the score is invalid or unofficial; "" when official

    def as_dict(self) -> dict:
        return {
            "olympic_mean_s": self.olympic_mean_s,
            "valid": self.valid,
            "official": self.official,
            "n_runs": self.n_runs,
            "n_converged": self.n_converged,
            "min_runs": self.min_runs,
            "median_s": self.median_s,
            "stdev_s": self.stdev_s,
            "used_times_s": list(self.used_times_s),
            "reason": self.reason,
        }


def olympic_mean(
    converged_times: Sequence[float], n_not_converged: int = 0, max_dropped: int = 1
) -> float | None:
    """Mean after dropping the `max_dropped` fastest and slowest runs; non-converged runs
    count as the slowest. None when too many runs did not converge or nothing remains."""
    if n_not_converged > max_dropped:
        return None
    times = sorted(converged_times)
    kept = times[max_dropped : len(times) - (max_dropped - n_not_converged)]
    if not kept:
        return None
    return sum(kept) / len(kept)


def score_runs(
    runs: Iterable[RunResult | tuple[float, bool]], min_runs: int, max_dropped: int = 1
) -> Score:
    """Score a benchmark's runs the way MLPerf's result summarizer does (see module docstring).

    `runs` holds RunResult or (time_to_train_s, converged) pairs; a non-converged run's
    time is ignored.
    """
    runs = [r if isinstance(r, RunResult) else RunResult(*r) for r in runs]
    times = sorted(r.time_to_train_s for r in runs if r.converged)
    n_bad = len(runs) - len(times)
    median = statistics.median(times) if times else None
    stdev = statistics.stdev(times) if len(times) >= 2 else None
    mean = olympic_mean(times, n_bad, max_dropped)

    if n_bad > max_dropped:
        reason = (
            f"{n_bad} of {len(runs)} runs did not converge; at most {max_dropped} may "
            "(fix the instability or the target, then rerun)"
        )
    elif mean is None:
        reason = (
            f"{len(times)} converged run(s) leave nothing after dropping the fastest and "
            f"slowest {max_dropped}; run at least {2 * max_dropped + 1}"
        )
    elif len(runs) < min_runs:
        reason = f"unofficial: {len(runs)} runs, the benchmark requires {min_runs}"
    else:
        reason = ""

    used: tuple[float, ...] = ()
    if mean is not None:
        used = tuple(times[max_dropped : len(times) - (max_dropped - n_bad)])
    valid = mean is not None
    return Score(
        olympic_mean_s=mean,
        valid=valid,
        official=valid and len(runs) >= min_runs,
        n_runs=len(runs),
        n_converged=len(times),
        min_runs=min_runs,
        median_s=median,
        stdev_s=stdev,
        used_times_s=used,
        reason=reason,
    )
