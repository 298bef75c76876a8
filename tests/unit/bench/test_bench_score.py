import math
import random
import statistics

import pytest
from mlperf_logging.result_summarizer.result_summarizer import _compute_olympic_average

from dlbench.bench.score import RunResult, olympic_mean, score_runs


def runs(*times, bad=0):
    return [RunResult(t, True) for t in times] + [RunResult(float("nan"), False)] * bad


def test_all_converged_drops_fastest_and_slowest():
    s = score_runs(runs(50, 10, 30, 20, 40), min_runs=5)
    assert s.valid and s.official and s.reason == ""
    assert s.olympic_mean_s == pytest.approx(30.0)  # mean(20, 30, 40)
    assert s.used_times_s == (20, 30, 40)
    assert s.median_s == 30 and s.stdev_s == pytest.approx(statistics.stdev([10, 20, 30, 40, 50]))
    assert (s.n_runs, s.n_converged) == (5, 5)


def test_one_non_converged_run_is_the_dropped_slowest():
    # Sorted converged: 10 20 30 100. The fastest (10) is dropped and the failed run
    # takes the slowest slot, so 100 is kept: mean(20, 30, 100) = 50.
    s = score_runs(runs(100, 10, 30, 20, bad=1), min_runs=5)
    assert s.valid and s.official
    assert s.olympic_mean_s == pytest.approx(50.0)
    assert (s.n_runs, s.n_converged) == (5, 4)


def test_two_non_converged_runs_invalidate_the_score():
    s = score_runs(runs(10, 20, 30, bad=2), min_runs=5)
    assert not s.valid and not s.official and s.olympic_mean_s is None
    assert "did not converge" in s.reason


def test_fewer_runs_than_required_is_unofficial_but_scored():
    s = score_runs([(9.0, True), (1.0, True), (2.0, True)], min_runs=5)
    assert s.valid and not s.official
    assert s.olympic_mean_s == pytest.approx(2.0)
    assert "unofficial" in s.reason


def test_too_few_converged_runs_leave_nothing_to_average():
    assert not score_runs(runs(1.0, 2.0), min_runs=1).valid
    assert not score_runs(runs(1.0, bad=1), min_runs=1).valid
    assert score_runs(runs(1.0, 2.0), min_runs=1).median_s == 1.5


def test_matches_the_result_summarizer_on_random_cases():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        times = [rng.uniform(1, 100) for _ in range(n)]
        bad = rng.choice([0, 0, 1])
        ours = olympic_mean(times, bad, max_dropped=1)
        theirs = _compute_olympic_average(list(times), bad, 1)
        assert (ours is None and theirs is None) or math.isclose(ours, theirs)
