import pytest

from dlbench.config import apply_overrides, load_config, parse_config
from dlbench.errors import UserError
from tests.conftest import tiny


def test_overrides_parse_yaml_values_and_lists():
    raw = apply_overrides(tiny(), ["optim.lr=3e-3", "train.steps=7", "model.stages.0.channels=4",
                                   "train.early_stopping.metric=val.loss", "optim.name=sgd"])
    cfg = parse_config(raw)
    assert cfg.optim.lr == 3e-3 and cfg.train.steps == 7 and cfg.model.stages[0].channels == 4
    assert cfg.train.early_stopping.metric == "val.loss" and cfg.optim.name == "sgd"


def test_override_without_equals_is_an_error():
    with pytest.raises(UserError, match="dotted.key=value"):
        apply_overrides({}, ["optim.lr"])


def test_every_problem_reported_at_once_with_paths_and_suggestions():
    raw = tiny()
    raw["optim"]["lrr"] = 1.0
    raw["train"]["steps"] = -3
    raw["model"]["stages"][0]["chanels"] = 4
    with pytest.raises(UserError) as e:
        parse_config(raw)
    msg = str(e.value)
    assert "3 problems" in msg
    assert "optim.lrr: unknown key in optim (did you mean 'lr'?)" in msg
    assert "train.steps" in msg and "greater than 0" in msg
    assert "model.stages.0.chanels: unknown key" in msg and "'channels'" in msg


def test_unknown_model_and_data_kind_suggest_closest():
    raw = tiny()
    raw["model"]["name"] = "cnnn"
    raw["data"]["kind"] = "mnist"
    with pytest.raises(UserError) as e:
        parse_config(raw)
    assert "model: unknown value 'cnnn' (did you mean 'cnn'?)" in str(e.value)
    assert "data: unknown value 'mnist' (did you mean 'mnist1d'?)" in str(e.value)


def test_wrong_type_and_cross_field_rules():
    raw = tiny()
    raw["optim"]["lr"] = "fast"
    raw["train"]["epochs"] = 2
    with pytest.raises(UserError) as e:
        parse_config(raw)
    assert "optim.lr" in str(e.value) and "'fast'" in str(e.value)
    assert "train.steps or train.epochs, not both" in str(e.value)


def test_malformed_yaml_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("data:\n  kind: digits\n model: [\n")
    with pytest.raises(UserError, match=r"malformed YAML at line \d+"):
        load_config(p)


def test_shipped_name_resolves_and_unknown_name_suggests():
    assert load_config("mnist1d-cnn").name == "mnist1d-cnn"
    with pytest.raises(UserError, match="did you mean 'mnist1d-cnn'"):
        load_config("mnist1d-cn")
