"""Forecast metrics against hand-computed cases, and the two baselines themselves."""
import numpy as np
import pytest

from dlbench.metrics.forecasting import (forecast_metrics, mae_by_horizon, mase_scale, naive_forecast,
                                         seasonal_naive_forecast)


def test_naive_repeats_the_last_value():
    h = np.array([[1.0], [4.0], [2.0]])
    assert naive_forecast(h, 3).ravel().tolist() == [2.0, 2.0, 2.0]


def test_seasonal_naive_takes_the_value_one_season_back():
    # season 4: history 10..17 (two seasons); step h+1 takes the value 4 (or 8) steps before it
    h = np.arange(10, 18, dtype=float)[:, None]
    got = seasonal_naive_forecast(h, 6, 4).ravel().tolist()
    assert got == [14, 15, 16, 17, 14, 15]  # steps 5 and 6 reach two seasons back into the history


def test_seasonal_naive_without_a_season_of_history_is_naive():
    h = np.array([[1.0], [2.0]])
    assert seasonal_naive_forecast(h, 2, 4).ravel().tolist() == [2.0, 2.0]


def test_mase_scale_is_the_in_sample_seasonal_naive_mae_over_observed_pairs():
    y = np.array([1, 2, 3, 5, np.nan, 9], dtype=float)[:, None]
    # m = 2 pairs: (3-1)=2, (5-2)=3, (nan-3) skipped, (9-5)=4 -> mean 3
    assert mase_scale(y, 2).tolist() == [3.0]
    # a constant seasonal difference of 0 falls back to the one-step naive MAE
    flat = np.array([1, 2, 1, 2, 1, 2], dtype=float)[:, None]
    assert mase_scale(flat, 2).tolist() == [1.0]


def test_metrics_by_hand():
    truth = np.array([[[2.0], [4.0]], [[np.nan], [10.0]]])   # 2 windows, horizon 2, 1 target; one value missing
    pred = np.array([[[1.0], [4.0]], [[99.0], [8.0]]])
    scale = np.array([[2.0], [4.0]])
    m = forecast_metrics(truth, pred, scale)
    # observed errors: 1, 0, 2 (the 99 against a missing value is not counted)
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 0 + 4) / 3))
    assert m["smape"] == pytest.approx(100 * (2 * 1 / 3 + 0 + 2 * 2 / 18) / 3)
    assert m["mase"] == pytest.approx((1 / 2 + 0 / 2 + 2 / 4) / 3)


def test_mase_of_the_seasonal_naive_forecast_on_its_training_data_is_one():
    rng = np.random.default_rng(0)
    y = (np.sin(np.arange(200) * 2 * np.pi / 12) * 5 + rng.normal(0, 1, 200))[:, None]
    m = 12
    scale = mase_scale(y, m)
    # forecast every step one ahead with the value a season back: the in-sample errors of the scale itself
    truth = y[m:][:, None]                       # [N, 1, 1]
    pred = y[:-m][:, None]
    got = forecast_metrics(truth, pred, np.repeat(scale[None], len(truth), 0))["mase"]
    assert got == pytest.approx(1.0)


def test_smape_counts_zero_against_zero_as_exact():
    m = forecast_metrics(np.zeros((1, 2, 1)), np.zeros((1, 2, 1)), np.ones((1, 1)))
    assert m["smape"] == 0.0 and m["mae"] == 0.0


def test_mae_by_horizon_skips_missing_values():
    truth = np.array([[[1.0], [np.nan]], [[3.0], [np.nan]]])
    pred = np.array([[[2.0], [0.0]], [[1.0], [0.0]]])
    assert mae_by_horizon(truth, pred) == [1.5, None]


def test_quantile_loss_and_coverage_by_hand():
    from dlbench.metrics.forecasting import quantile_metrics

    truth = np.array([[[10.0], [np.nan]]])                      # one observed value
    q = np.array([[[[8.0, 11.0]], [[0.0, 0.0]]]])              # quantiles 0.1 and 0.9 of both steps
    m = quantile_metrics(truth, q, [0.1, 0.9])
    # pinball: q=0.1, d=2 -> 0.2; q=0.9, d=-1 -> 0.1; mean 0.15 (the missing step is not counted)
    assert m["quantile_loss"] == pytest.approx(0.15)
    assert m["coverage"] == 1.0 and m["coverage_nominal"] == pytest.approx(0.8)
