import pytest

from dlbench.config import apply_overrides
from dlbench.schema import load_config, parse_config
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


@pytest.mark.parametrize("name", ["../../../tmp/x", "/tmp/x", "a/b", ".hidden", "..", "", "a b", "naïve", "x" * 101])
def test_unsafe_run_names_are_config_errors(name):
    with pytest.raises(UserError, match=r"^c.yaml: name: a run name "):
        parse_config({**tiny(), "name": name}, source="c.yaml")


@pytest.mark.parametrize("name", ["m1", "mnist1d-cnn_v2.3", "-x", "x" * 100])
def test_safe_run_names_pass(name):
    assert parse_config({**tiny(), "name": name}).name == name


def test_a_single_problem_is_one_line_and_long_values_are_cut():
    with pytest.raises(UserError) as e:
        parse_config({**tiny(), "name": "a" * 300}, source="c.yaml")
    line = e.value.line()
    assert "\n" not in line and "at most 100 characters, this one has 300" in line and len(line) < 250


def test_name_from_file_name_is_made_safe(tmp_path):
    import yaml

    cfg = {k: v for k, v in tiny().items() if k != "name"}
    for stem, name in (("my config (v2)", "my-config--v2-"), (".hidden", "hidden")):
        (tmp_path / f"{stem}.yaml").write_text(yaml.safe_dump(cfg))
        assert load_config(tmp_path / f"{stem}.yaml").name == name


def _read(tmp_path, text: str):
    from dlbench.config.load import read_yaml

    p = tmp_path / "c.yaml"
    p.write_text(text)
    return read_yaml(p)


def test_duplicate_key_is_refused_with_both_lines(tmp_path):
    with pytest.raises(UserError, match=r"c.yaml: line 4, column 3: duplicate key 'lr' \(first at line 3\)"):
        _read(tmp_path, "data: {kind: digits}\noptim:\n  lr: 1\n  lr: 2\n")


def test_merge_keys_may_be_overridden(tmp_path):
    assert _read(tmp_path, "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")["d"] == {"x": 3, "y": 2}


def test_deep_nesting_is_refused_without_recursion_error(tmp_path):
    with pytest.raises(UserError, match="nested deeper than 50 levels"):
        _read(tmp_path, "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert _read(tmp_path, "a: " + "[" * 40 + "]" * 40 + "\n")  # deep, but within the bound


def test_value_count_is_bounded_while_composing(tmp_path):
    with pytest.raises(UserError, match="line 1, .*more than 100,000 values"):
        _read(tmp_path, "a: [" + ",".join(["1"] * 100_001) + "]\n")
    # aliases count as what they expand to: 10**6 values from six short lines
    laughs = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(f"{k}: &{k} [{', '.join([f'*{p}'] * 10)}]\n"
                                                      for p, k in zip("abcde", "bcdef"))
    with pytest.raises(UserError, match="more than 100,000 values"):
        _read(tmp_path, laughs)


def test_config_file_size_is_bounded(tmp_path):
    with pytest.raises(UserError, match="larger than 1 MiB"):
        _read(tmp_path, "a: 1\n" + "#" * (1 << 20) + "\n")


def test_override_values_have_the_same_bounds():
    with pytest.raises(UserError, match="override value .*more than 100,000 values"):
        apply_overrides({}, ["a=[" + ",".join(["1"] * 100_001) + "]"])
    assert apply_overrides({}, ["a=[1, 2]"]) == {"a": [1, 2]}


def test_an_override_of_the_training_length_replaces_the_other():
    raw = {"train": {"steps": 500}}
    assert apply_overrides(raw, ["train.epochs=3"])["train"] == {"epochs": 3}
    assert apply_overrides({"train": {"epochs": 2}}, ["train.steps=10"])["train"] == {"steps": 10}
    cfg = load_config("mnist1d-cnn", ["train.epochs=3"])  # the shipped config sets train.steps
    assert cfg.train.epochs == 3 and cfg.train.steps is None
