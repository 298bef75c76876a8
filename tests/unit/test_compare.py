"""The paired tests behind `dlbench compare`, on per-row scores with known answers."""

import numpy as np

from dlbench.compare import _bootstrap, _mcnemar


def test_mcnemar_counts_discordant_rows():
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1] * 10, dtype=float)
    b = np.ones_like(a)
    r = _mcnemar(a, b)
    assert (r["only_a_right"], r["only_b_right"]) == (0, 30) and r["p_value"] < 1e-8
    assert _mcnemar(a, a)["p_value"] == 1.0
    balanced = _mcnemar(np.array([1, 0] * 20, float), np.array([0, 1] * 20, float))  # 20 vs 20: no evidence
    assert balanced["p_value"] == 1.0


def test_paired_bootstrap_of_regression_errors():
    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, 400)  # squared errors of model A
    better = base * 0.7  # B's errors are 30 % smaller on every row
    r = _bootstrap(base, better, "regression", 1000, 0)
    assert r["significant"] and r["ci_high"] < 0 and r["difference"] < 0
    noise = base + rng.normal(0, 0.05, 400)  # B no better than A
    assert not _bootstrap(base, noise, "regression", 1000, 0)["significant"]
    same = _bootstrap(base, base, "regression", 1000, 0)
    assert same["ci_low"] == same["ci_high"] == 0.0 and not same["significant"]
