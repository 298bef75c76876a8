"""Measuring generators: collapse warnings, column statistics, units, diagnosis, the reference config."""
import numpy as np
import pytest
import torch

from dlbench.schema import parse_config
from dlbench.data.bundle import DataSpec, Split
from dlbench.recipes.registry import build_model
from dlbench.recipes.gan.model import GANConfig
from dlbench.recipes.gan.measure import (Reference, affine_to_data_units, collapse_warning, column_stats, diagnose_gan,
                                      measure, reference_config)


def test_collapse_warning_in_plain_language():
    healthy = {"distinct_classes": 10, "real_distinct_classes": 10, "diversity_ratio": 0.9}
    assert collapse_warning(healthy) is None
    w = collapse_warning({"distinct_classes": 2, "real_distinct_classes": 10, "diversity_ratio": 0.2})
    assert w.startswith("mode collapse") and "only 2 of 10 classes" in w and "5.0x closer" in w


def test_column_stats_are_in_data_units():
    real = np.random.default_rng(0).normal(size=(200, 2))
    fake = (real - real.mean(0)) * 0.5 + real.mean(0) + 1.0  # half the spread, shifted by one std unit
    pre = {"kind": "array", "input_shape": [2], "mean": [10.0, 0.0], "std": [2.0, 1.0]}
    spec = DataSpec("regression", (2,), extras={"feature_names": ["age", "bmi"]})
    s = column_stats(real, fake, spec, pre)
    age = s["column_stats"]["age"]
    assert age["generated_mean"] == pytest.approx(age["real_mean"] + 2.0)  # +1 std unit = +2 years
    assert age["generated_std"] == pytest.approx(age["real_std"] * 0.5)
    assert s["column_std_ratio"] == pytest.approx(0.5)
    assert s["column_mean_gap"] == pytest.approx(np.mean(np.abs(fake.mean(0) - real.mean(0)) / real.std(0)))


def test_affine_units_for_tabular_preprocessing():
    pre = {"kind": "tabular", "numeric": [{"name": "a", "mean": 5.0, "std": 2.0, "fill": None}],
           "categorical": [{"name": "c", "categories": ["x", "y"], "fill": None}]}
    scale, shift = affine_to_data_units(pre, 3)
    assert scale.tolist() == [2.0, 1.0, 1.0] and shift.tolist() == [5.0, 0.0, 0.0]


def test_measure_in_data_space_without_a_classifier():
    spec = DataSpec("regression", (4,))
    gan = build_model(GANConfig(width=8, latent_dim=3, conditional=False), spec)
    real = Split(torch.randn(50, 4), torch.randn(50))
    m, fake = measure(gan, Reference(None, torch.device("cpu")), real, 40, floor=Split(torch.randn(60, 4), None),
                      spec=spec)
    assert fake.shape == (40, 4)
    assert m["data_fd"] > 0 and m["data_fd_real"] > 0 and 0 <= m["d_accuracy_real"] <= 1
    assert "column_stats" in m and "conditional_accuracy" not in m
    again, _ = measure(gan, Reference(None, torch.device("cpu")), real, 40)
    assert again["data_fd"] == m["data_fd"]  # evaluation noise is seeded: the same number every time


def test_diagnosis():
    ev = [{"step": 0, "val.classifier_fd": 300.0}, {"step": 100, "val.classifier_fd": 30.0},
          {"step": 200, "val.classifier_fd": 10.0}]
    assert diagnose_gan(ev, {"classifier_fd_real": 9.0}, "classifier_fd")["verdict"] == "good fit"
    assert diagnose_gan(ev, {}, "classifier_fd")["verdict"] == "undertrained"
    plateau = ev + [{"step": 300, "val.classifier_fd": 10.2}]
    assert diagnose_gan(plateau, {"classifier_fd_real": 1.0}, "classifier_fd")["verdict"] == "underfitting"
    assert diagnose_gan(plateau, {"classifier_fd_real": 5.0}, "classifier_fd")["verdict"] == "good fit"
    flat = [{"step": 0, "val.classifier_fd": 300.0}, {"step": 100, "val.classifier_fd": 250.0}]
    assert diagnose_gan(flat, {}, "classifier_fd")["verdict"] == "not learning"
    worse = ev + [{"step": 300, "val.classifier_fd": 40.0}]
    assert diagnose_gan(worse, {}, "classifier_fd")["verdict"] == "unstable"
    assert diagnose_gan(ev, {"warning": "mode collapse: ..."}, "classifier_fd")["verdict"] == "mode collapse"


@pytest.mark.parametrize("data,shape,family", [({"kind": "digits"}, (1, 8, 8), "cnn"),
                                               ({"kind": "sklearn-table", "dataset": "wine"}, (13,), "mlp")])
def test_reference_config_is_a_valid_dlbench_config(data, shape, family):
    cfg = parse_config({"data": data, "model": {"name": "gan"}, "name": "g"})
    ref = parse_config(reference_config(cfg, DataSpec("classification", shape, 3)))
    assert ref.model.name == family and ref.data == cfg.data and ref.name == "g-classifier"
