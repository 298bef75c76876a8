"""The forecasting task: a loss that skips missing targets, forecasts in the target's units, the verdict."""
import numpy as np
import pytest
import torch

from dlbench.data.bundle import DataSpec
from dlbench.tasks.forecasting import ForecastTask


def task(loss="mae"):
    return ForecastTask(DataSpec("forecasting", (5, 10), target_dim=2, extras={"horizon": 2, "targets": ["y"],
                                                                             "loss": loss}))


def test_the_loss_counts_observed_targets_only():
    out = torch.tensor([[1.0, 5.0]])
    y = torch.tensor([[0.0, 0.0, 1.0, 0.0]])  # targets 0, 0; the second is missing (mask 0)
    assert task("mae")._loss(out, y).item() == pytest.approx(1.0)
    assert task("mse")._loss(out, y).item() == pytest.approx(1.0)
    y_all = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert task("mse")._loss(out, y_all).item() == pytest.approx((1 + 25) / 2)


def test_outputs_become_forecasts_in_the_target_units():
    got = task().to_units(np.array([[1.0, -1.0]]), level=np.array([[100.0]]), scale=np.array([[2.0]]))
    assert got.shape == (1, 2, 1) and got.ravel().tolist() == [102.0, 98.0]


def val(mase, sn, nv):
    return {"mase": mase, "mae": mase, "baselines": {"naive": {"mase": nv, "mae": nv},
                                                     "seasonal_naive": {"mase": sn, "mae": sn}}}


def test_a_model_not_better_than_seasonal_naive_is_said_to_be_so():
    d = task().judge({"verdict": "good fit", "reason": "validation loss near its best", "evidence": {}},
                     val(1.10, 1.00, 1.20))
    assert d["verdict"] == "worse than seasonal naive"
    assert "not below the seasonal-naive forecast's 1.000" in d["reason"] and "Fit: good fit" in d["reason"]
    assert d["evidence"]["seasonal_naive_val_mase"] == 1.0


def test_a_better_model_keeps_its_verdict_and_names_both_baselines():
    d = task().judge({"verdict": "good fit", "reason": "ok", "evidence": {}}, val(0.5, 1.0, 0.4))
    assert d["verdict"] == "good fit"
    assert "beats the seasonal-naive forecast (MASE 0.500 vs 1.000) but not the last value (MASE 0.400)" in d["reason"]


def test_quantile_outputs_add_the_pinball_loss_and_come_out_in_units():
    t = ForecastTask(DataSpec("forecasting", (5, 10), target_dim=3, extras={"horizon": 1, "targets": ["y"],
                                                                           "loss": "mae", "quantiles": [0.1, 0.9]}))
    out = torch.tensor([[0.0, -1.0, 2.0]])      # point 0, q0.1 -1, q0.9 2; target 1
    y = torch.tensor([[1.0, 1.0]])
    # point |0 - 1| = 1; pinball 0.1 * 2 = 0.2 and 0.9 - 1 = -0.1 * -1 = 0.1 -> mean 0.15
    assert t._loss(out, y).item() == pytest.approx(1.15)
    lv, sc = np.array([[10.0]]), np.array([[2.0]])
    assert t.to_units(out.numpy(), lv, sc).ravel().tolist() == [10.0]
    assert t.to_units(out.numpy(), lv, sc, quantiles=True).ravel().tolist() == [8.0, 14.0]
