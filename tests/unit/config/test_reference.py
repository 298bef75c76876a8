import pytest

from dlbench.data.registry import DATASETS
from dlbench.errors import UserError
from dlbench.recipes.registry import RECIPES
from dlbench.schema.reference import SECTIONS, groups, reference, undescribed


def test_reference_lists_every_section_with_docstrings():
    keys = {k: (t, d, h) for k, t, d, h in reference()}
    assert keys["optim.lr"][1] == "0.001" and "Peak learning rate" in keys["optim.lr"][2]
    assert "model[cnn].stages[].channels" in keys and keys["model[cnn].stages[].channels"][1] == "(required)"
    assert "data[csv].target" in keys and "train.early_stopping.patience" in keys
    assert "tracking.mlflow" in keys and "name" in keys


def test_every_key_has_a_description():
    """A new config field needs a docstring under it: `dlbench configs keys` shows it as the key's meaning."""
    missing = undescribed()
    assert not missing, f"config keys without a docstring under their field: {', '.join(missing)}"


def test_defaults_are_written_as_in_a_config():
    keys = {k: d for k, _, d, _ in reference()}
    assert keys["model[mlp].hidden"] == "[128, 128]"
    assert keys["model[cnn].stages"] == "[{channels: 32}, {channels: 64, pool: max}]"
    assert keys["optim.grad_clip"] == "null" and keys["train.keep_best"] == "true"
    assert keys["train.early_stopping"] == "(section)" and keys["data[csv].path"] == "(required)"


def test_groups_per_data_kind_and_per_family_with_the_selector_first():
    gs = groups()
    assert [g.name for g in gs if g.section == "data"] == list(DATASETS)
    assert [g.name for g in gs if g.section == "model"] == list(RECIPES)
    assert [g.section for g in gs if g.name is None] == ["optim", "train", "tracking", "name"]
    for g in gs:
        assert g.about and g.rows, g.title
        if g.section == "data":
            assert g.title == f"data.kind: {g.name}" and g.rows[0][0] == "data.kind"
        if g.section == "model":
            assert g.title == f"model.name: {g.name}" and g.rows[0][0] == "model.name"
            assert all(k.startswith("model.") for k, *_ in g.rows)
    assert set(SECTIONS) == {g.section for g in gs}


def test_one_kind_or_family_and_the_shorthand():
    (cnn,) = groups("model", "cnn")
    assert cnn.title == "model.name: cnn" and any(k == "model.stages[].kernel" for k, *_ in cnn.rows)
    assert groups("cnn")[0].title == "model.name: cnn"
    assert groups("csv")[0].title == "data.kind: csv"
    assert [g.section for g in groups("train")] == ["train"]
    with pytest.raises(UserError, match="unknown model family 'cnnn'") as e:
        groups("model", "cnnn")
    assert "did you mean 'cnn'" in e.value.line()
    with pytest.raises(UserError, match="unknown section 'trian'"):
        groups("trian")
    with pytest.raises(UserError, match="no kinds or families"):
        groups("optim", "adam")


def test_keys_command(run_cli):
    code, out, _ = run_cli("configs", "keys", "train")
    assert code == 0 and "train.batch_size" in out and "model." not in out
    code, _, err = run_cli("configs", "keys", "bogus")
    assert code == 2 and "unknown section" in err


def test_keys_command_groups_by_family_and_kind(run_cli):
    code, out, err = run_cli("configs", "keys", "model", "cnn")
    assert code == 0, err
    assert out.startswith("model.name: cnn — ") and "model.stages[].channels: int (required)" in out
    assert "model.hidden" not in out and "data." not in out
    code, out, _ = run_cli("configs", "keys")
    assert code == 0
    for title in ("data.kind: csv — ", "data.kind: image-folder — ", "model.name: mlp — ", "model.name: gan — ",
                  "\noptim — ", "\ntrain — ", "\ntracking — "):
        assert title in out, title
    code, _, err = run_cli("configs", "keys", "model", "cnnn")
    assert code == 2 and "did you mean 'cnn'" in err


def test_keys_command_prints_tables_on_a_wide_terminal(run_cli, monkeypatch):
    from dlbench.cli import console

    monkeypatch.setattr(console.out, "_width", 160)
    code, out, _ = run_cli("configs", "keys", "data", "csv")
    assert code == 0 and "┃ key" in out and "data.max_classes" in out
