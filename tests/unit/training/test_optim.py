import math

import pytest
import torch

from dlbench.schema import OptimConfig
from dlbench.training.optim import build_optimizer, lr_factor


def test_no_weight_decay_on_biases_and_norms():
    m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    opt = build_optimizer(OptimConfig(name="adamw", weight_decay=0.1), m)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {id(m[0].weight), id(m[2].weight)}


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_optimizers_build(name):
    opt = build_optimizer(OptimConfig(name=name, nesterov=name == "sgd"), torch.nn.Linear(2, 2))
    assert opt.param_groups[0]["lr"] == 1e-3


def test_schedules():
    f = lambda **kw: [lr_factor(OptimConfig(**kw), s, 100) for s in range(100)]  # noqa: E731
    assert f() == [1.0] * 100
    w = f(warmup_steps=10, schedule="cosine")
    assert w[0] == pytest.approx(0.1) and w[9] == pytest.approx(1.0) and w[-1] < 0.01
    assert f(schedule="step", step_size=30, gamma=0.5)[65] == 0.25
    lin = f(schedule="linear", min_lr_ratio=0.1)
    assert lin[0] == 1.0 and lin[-1] == pytest.approx(0.1, abs=0.02)
    inv = f(schedule="inverse_sqrt", warmup_steps=4)
    assert inv[3] == 1.0 and inv[15] == pytest.approx(math.sqrt(4 / 16))
    oc = f(schedule="onecycle")
    assert oc[0] == pytest.approx(1 / 25) and max(oc) == pytest.approx(1.0, abs=1e-3) and oc[-1] < 0.01


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError):
        OptimConfig(name="sgd", nesterov=True, momentum=0.0)
