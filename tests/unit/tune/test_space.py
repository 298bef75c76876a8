"""Search-space parsing: every problem at once with its path, conditions, layers, `*`, grid."""
import optuna
import pytest

from dlbench.config.load import read_yaml, resolve_config_path
from dlbench.errors import UserError
from dlbench.tune.space import SHIPPED_SPACES, apply_values, grid, parse_space, read_space, suggest

CNN = read_yaml(resolve_config_path("mnist1d-cnn"))


@pytest.mark.parametrize("path", sorted(SHIPPED_SPACES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_space_validates_against_its_config(path):
    raw, _ = read_space(path)
    space = parse_space(raw, read_yaml(resolve_config_path(path.stem)))
    assert space.params and space.metric == "val.accuracy"


def test_every_problem_is_reported_at_once_with_its_path():
    raw = {"metric": "test.accuracy", "sampler": {"name": "tpe", "sed": 1},
           "params": {"optim.lrr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                      "optim.lr": {"type": "float", "low": 1e-1, "high": 1e-3},
                      "model.dropout": {"type": "float", "low": 0.0, "high": 1.0},
                      "optim.name": {"type": "categorical", "choices": ["sgd", "rmsprop"]},
                      "optim.momentum": {"type": "flaot", "low": 0, "high": 1},
                      "optim.nesterov": {"type": "categorical", "choices": [True, False], "when": {"optim.nam": "sgd"}},
                      "train.batch_size": {"type": "int", "low": 8, "high": 8, "stepp": 2},
                      "train.seed": {"type": "categorical", "choices": []}}}
    with pytest.raises(UserError) as e:
        parse_space(raw, CNN, "s.yaml")
    text = e.value.line()
    lines = text.splitlines()
    assert lines[0] == "s.yaml: 10 problems in the search space"
    expected = ["metric: must be a validation metric",
                "sampler.sed: unknown key (did you mean 'seed'?)",
                "params.optim.lrr: unknown key in optim (did you mean 'lr'?)",       # via the Config schema
                "params.optim.lr: empty range: low (0.1) must be < high (0.001)",
                "params.model.dropout: Input should be less than 1",                  # the range's high end
                "params.optim.name: Input should be 'sgd', 'adam' or 'adamw' (got 'rmsprop')",
                "params.optim.momentum: unknown type 'flaot'",
                "params.optim.nesterov.when.optim.nam: not a parameter defined above this one",
                "params.train.batch_size.stepp: unknown key (did you mean 'step'?)",
                "params.train.seed.choices: List should have at least 1 item"]
    for want in expected:
        assert any(line.strip().startswith(want) for line in lines), (want, text)


def test_an_empty_params_section_is_an_error():
    with pytest.raises(UserError, match="params: required"):
        parse_space({"metric": "val.loss"}, CNN)


SPACE = {"params": {
    "optim.name": {"type": "categorical", "choices": ["adamw", "sgd"]},
    "optim.momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optim.name": "sgd"}},
    "optim.nesterov": {"type": "categorical", "choices": [True, False], "when": {"optim.name": ["sgd"]}},
    "model.stages": {"type": "layers", "depth": {"low": 1, "high": 3}, "width": {"low": 8, "high": 32, "step": 8},
                     "item": {"kernel": 3, "stride": 2}},
    "model.stages.*.residual": {"type": "categorical", "choices": [True, False]},
    "model.head_hidden": {"type": "categorical", "choices": [[], [32], [64, 64]]}}}


def test_conditional_parameters_are_suggested_only_when_their_condition_holds():
    space = parse_space(SPACE, CNN)
    common = {"model.stages.depth": 2, "model.stages.width": 16, "model.stages.*.residual": True,
              "model.head_hidden": "[64, 64]"}
    sgd = suggest(space, optuna.trial.FixedTrial({"optim.name": "sgd", "optim.momentum": 0.9,
                                                  "optim.nesterov": True, **common}))
    adamw = suggest(space, optuna.trial.FixedTrial({"optim.name": "adamw", **common}))
    assert sgd["optim.momentum"] == 0.9 and sgd["optim.nesterov"] is True
    assert "optim.momentum" not in adamw and "optim.nesterov" not in adamw
    # layers: depth x width with the item template; a list choice comes back as the list
    assert adamw["model.stages"] == [{"kernel": 3, "stride": 2, "channels": 16}] * 2
    assert adamw["model.head_hidden"] == [64, 64]
    cfg = apply_values(CNN, adamw)
    assert [s["residual"] for s in cfg["model"]["stages"]] == [True, True]  # `*` covers every stage
    assert cfg["optim"] == CNN["optim"] | {"name": "adamw"}


def test_suggest_with_a_real_study_samples_inside_the_space():
    space = parse_space(SPACE, CNN)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        t = study.ask()
        v = suggest(space, t)
        seen.add(v["optim.name"])
        assert ("optim.momentum" in v) == (v["optim.name"] == "sgd")
        assert 1 <= len(v["model.stages"]) <= 3 and v["model.stages"][0]["channels"] in (8, 16, 24, 32)
        study.tell(t, 0.0)
    assert seen == {"adamw", "sgd"}


def test_grid_needs_discrete_floats_and_spans_every_parameter():
    raw = {"sampler": {"name": "grid"}, "params": {
        "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-2},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.1},
        "train.batch_size": {"type": "int", "low": 16, "high": 64, "step": 16}}}
    with pytest.raises(UserError, match=r"params.optim.lr: the grid sampler needs"):
        parse_space(raw, CNN)
    raw["params"]["optim.lr"]["grid"] = [1e-3, 1e-2]
    g = grid(parse_space(raw, CNN))
    assert g["optim.lr"] == [1e-3, 1e-2] and len(g["model.dropout"]) == 3 and g["train.batch_size"] == [16, 32, 48, 64]
