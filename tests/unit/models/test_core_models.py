import pytest
import torch

from dlbench.schema import load_config, parse_config
from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import build_model
from tests.conftest import tiny

SIGNAL = DataSpec("classification", (1, 40), 10)
FLAT = DataSpec("classification", (40,), 10)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_mnist1d_reference_models_match_published_architectures():
    # ConvBase: Conv1d(1,25,5,s2,p1) + 2x Conv1d(25,25,3,s2,p1) + Linear(125, 10)
    cnn = build_model(load_config("mnist1d-cnn").model, SIGNAL)
    assert n_params(cnn) == (25 * 5 + 25) + 2 * (25 * 25 * 3 + 25) + (125 * 10 + 10)
    # GRUBase: bidirectional GRU(1 -> 6) over 40 steps, all outputs flattened into Linear(480, 10)
    gru = build_model(load_config("mnist1d-gru").model, SIGNAL)
    assert n_params(gru) == 2 * 3 * (6 * 1 + 6 * 6 + 6 + 6) + (480 * 10 + 10)
    # MLPBase: Linear(40,100), Linear(100,100) with residual, Linear(100,10)
    mlp = build_model(load_config("mnist1d-mlp").model, FLAT)
    assert n_params(mlp) == (40 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10)
    assert mlp.blocks[1].residual and not mlp.blocks[0].residual
    for m, shape in ((cnn, (4, 1, 40)), (gru, (4, 1, 40)), (mlp, (4, 40))):
        assert m(torch.randn(shape)).shape == (4, 10)


@pytest.mark.parametrize("model", [
    {"name": "mlp", "hidden": [16, 16], "norm": "batch", "activation": "gelu", "dropout": 0.1, "residual": True},
    {"name": "mlp", "hidden": [16], "norm": "layer", "activation": "leaky_relu"},
    {"name": "cnn", "stages": [{"channels": 8, "residual": True}, {"channels": 16, "stride": 2, "residual": True,
                                                                    "pool": "avg"}], "head": "max"},
    {"name": "rnn", "cell": "lstm", "hidden_size": 8, "layers": 2, "dropout": 0.1, "bidirectional": True},
    {"name": "rnn", "cell": "gru", "pooling": "mean"},
])
def test_model_variants_forward_and_backward(model):
    raw = tiny()
    raw["model"] = model
    spec = DataSpec("classification", (1, 8, 8) if model["name"] == "cnn" else (1, 40), 3)
    m = build_model(parse_config(raw).model, spec)
    out = m(torch.randn(5, *spec.input_shape))
    assert out.shape == (5, 3)
    out.sum().backward()


def test_regression_head_width():
    m = build_model(parse_config(tiny(model="mlp")).model, DataSpec("regression", (10,), target_dim=2))
    assert m(torch.randn(3, 10)).shape == (3, 2)


def test_cnn_that_shrinks_input_to_nothing_is_a_user_error():
    raw = tiny()
    raw["model"] = {"name": "cnn", "stages": [{"channels": 4, "kernel": 5, "stride": 4, "padding": 0}] * 4,
                    "head": "flatten"}
    with pytest.raises(UserError, match="shrink the input"):
        build_model(parse_config(raw).model, DataSpec("classification", (1, 8, 8), 3))
