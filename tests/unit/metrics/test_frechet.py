"""Fréchet distance and mean pairwise distance: known values, invariances, growth with a shift."""
import numpy as np
import pytest

from dlbench.metrics.frechet import frechet_distance, frechet_distance_of, gaussian_stats, mean_pairwise_distance


def test_a_set_against_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-6)


def test_grows_with_a_shift_and_equals_the_squared_shift_for_equal_covariances():
    x = np.random.default_rng(1).normal(size=(400, 8))
    ds = [frechet_distance_of(x, x + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert ds == sorted(ds) and ds[0] < 1e-6
    assert ds[2] == pytest.approx(8 * 1.0 ** 2, rel=1e-6)  # |mu1 - mu2|^2 = D * shift^2


def test_closed_form_for_gaussians():
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2 ; diagonal covariances add up per dimension
    assert frechet_distance(np.array([0.0]), np.array([[4.0]]), np.array([1.0]), np.array([[1.0]])) == pytest.approx(2.0)
    mu = np.zeros(3)
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(1.0 + 0.0 + 4.0)


def test_singular_covariances_from_few_samples_stay_real_and_non_negative():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(10, 64)), rng.normal(size=(12, 64))  # rank < D
    d = frechet_distance_of(a, b)
    assert np.isfinite(d) and d >= 0
    assert frechet_distance_of(a, a) == pytest.approx(0.0, abs=1e-6)


def test_gaussian_stats_needs_two_rows():
    with pytest.raises(ValueError):
        gaussian_stats(np.zeros((1, 3)))


def test_mean_pairwise_distance():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert mean_pairwise_distance(x) == pytest.approx(5.0)
    same = np.ones((50, 4))
    assert mean_pairwise_distance(same) == pytest.approx(0.0, abs=1e-9)
    wide = np.random.default_rng(3).normal(size=(2000, 4))
    assert mean_pairwise_distance(wide * 2, max_samples=300) == pytest.approx(2 * mean_pairwise_distance(wide, max_samples=300), rel=1e-6)
