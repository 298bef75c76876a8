"""Drift statistics on synthetic shifts: what stays quiet, what crosses the thresholds, and the numbers themselves."""
import numpy as np
import pytest
from scipy import stats as sps

from dlbench.monitor.features import Feature
from dlbench.monitor.profile import FeatureRef, summarize
from dlbench.monitor.stats import Thresholds, psi, score, verdict

RNG = np.random.default_rng(0)
TRAIN = RNG.normal(10.0, 2.0, 5000)


def ref(values=TRAIN, feature=Feature("x")):
    return FeatureRef.parse(summarize(feature, values, np.random.default_rng(1)))


def test_psi_is_zero_for_equal_shares_and_matches_its_formula():
    p = np.array([0.25, 0.25, 0.5])
    assert psi(p, p) == 0
    q = np.array([0.5, 0.25, 0.25])
    assert psi(p, q) == pytest.approx(np.sum((q - p) * np.log(q / p)))
    assert np.isfinite(psi(p, np.array([1.0, 0.0, 0.0])))  # an empty bin is floored, never infinite


@pytest.mark.parametrize("seed", range(5))
def test_in_distribution_window_stays_below_the_thresholds(seed):
    live = np.random.default_rng(100 + seed).normal(10.0, 2.0, 300)
    s = score(ref(), live, Thresholds())
    assert s.psi < 0.1 and not s.drifted
    assert s.wasserstein < 0.3


def test_two_standard_deviations_shift_crosses_both_thresholds():
    live = np.random.default_rng(7).normal(14.0, 2.0, 200)
    s = score(ref(), live, Thresholds())
    assert s.drifted and s.psi > 1 and s.pvalue < 1e-10
    assert s.wasserstein == pytest.approx(2.0, abs=0.3)  # in training standard deviations
    assert s.out_of_range > 0.01  # some rows beyond the training max


def test_the_test_is_scipys_ks_against_the_stored_sample():
    r = ref()
    live = np.random.default_rng(3).normal(10.5, 2.0, 400)
    s = score(r, live, Thresholds())
    expected = sps.ks_2samp(r.sample, live, method="asymp")
    assert s.test == "ks" and s.statistic == pytest.approx(expected.statistic) and s.pvalue == pytest.approx(expected.pvalue)


def test_too_few_rows_are_not_scored():
    s = score(ref(), np.random.default_rng(2).normal(30, 2, 20), Thresholds(min_rows=100))
    assert s.psi is None and not s.drifted and s.out_of_range == 1.0
    tone, line = verdict([s], [])
    assert tone == "note" and "20 live rows" in line


def test_categorical_drift_uses_chi_square_and_counts_unseen_categories():
    f = Feature("city", "categorical", ("a", "b", "c"))
    r = ref(np.array([0] * 500 + [1] * 300 + [2] * 200, dtype=float), f)
    same = np.array([0] * 50 + [1] * 30 + [2] * 20, dtype=float)
    assert not score(r, np.tile(same, 3), Thresholds()).drifted
    moved = np.array([2] * 150 + [3] * 50, dtype=float)  # mostly "c", a quarter unseen
    s = score(r, moved, Thresholds())
    assert s.test == "chi2" and s.drifted and s.out_of_range == pytest.approx(0.25)
    assert s.wasserstein is None


def test_constant_feature_and_verdicts():
    r = ref(np.zeros(1000))
    assert r.scale == 1.0  # a constant feature measures distances in its own units
    quiet = score(r, np.zeros(200), Thresholds())
    assert not quiet.drifted and quiet.psi < 0.01
    loud = score(r, np.ones(200), Thresholds())
    assert loud.drifted
    assert verdict([quiet], [])[0] == "good"
    tone, line = verdict([quiet, loud], [])
    assert tone == "bad" and "x" in line


def test_score_all_runs_the_ks_tests_at_once_with_the_same_results():
    from dlbench.monitor.stats import score_all

    rng = np.random.default_rng(4)
    refs = [ref(rng.normal(j, 1, 3000)) for j in range(5)] + [ref(np.array([0.0, 1.0] * 500), Feature("c", "categorical", ("a", "b")))]
    rows = np.column_stack([rng.normal(j + (j == 2), 1, 300) for j in range(5)] + [rng.integers(0, 2, 300)])
    together = score_all(refs, rows, Thresholds())
    alone = [score(r, rows[:, j], Thresholds()) for j, r in enumerate(refs)]
    np.testing.assert_allclose([(s.statistic, s.pvalue) for s in together], [(s.statistic, s.pvalue) for s in alone])
    assert [s.drifted for s in together] == [False, False, True, False, False, False]


def test_scores_are_plain_json():
    import json

    from dlbench.monitor.stats import score_all

    refs = [ref(), ref(TRAIN + 1)]
    rows = np.random.default_rng(9).normal(10, 2, (200, 2))
    for s in score_all(refs, rows, Thresholds()) + [score(refs[0], rows[:, 0], Thresholds())]:
        assert json.loads(json.dumps(s.to_json()))["feature"] == "x"
