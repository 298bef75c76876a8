"""Every shipped config loads, validates and builds its model on its data's spec."""
from pathlib import Path

import pytest

from dlbench.config.load import SHIPPED_DIR
from dlbench.schema import load_config

SHIPPED = sorted(SHIPPED_DIR.glob("*.yaml"))


def test_the_core_configs_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"digits-cnn", "digits-mlp", "mnist1d-cnn", "mnist1d-gru", "mnist1d-mlp", "diabetes-mlp"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_config_builds(path: Path):
    text = path.read_text()
    assert text.startswith("#"), "a shipped config opens with a comment saying what it is"
    assert f"dlbench train configs/{path.name}" in text, "and the command that runs it"
    cfg = load_config(path)
    from dlbench.data.registry import build_data
    from dlbench.recipes.registry import build_model

    bundle = build_data(cfg.data)
    model = build_model(cfg.model, bundle.spec)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("name", ["csv-classification", "csv-regression"])
def test_a_shipped_csv_config_finds_its_example_file_from_any_directory(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: `configs/data/...` does not exist here
    cfg = load_config(name)
    path = Path(cfg.data.path)
    assert path.is_absolute() and path.is_file() and path.parent == SHIPPED_DIR / "data"
    (tmp_path / "configs" / "data").mkdir(parents=True)
    mine = tmp_path / "configs" / "data" / path.name
    mine.write_text("a,b\n1,2\n")
    assert Path(load_config(name).data.path) == Path("configs/data") / path.name  # a file where the user runs wins


def test_the_example_csvs_are_what_the_script_writes(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example_data",
                                                  Path(__file__).parent.parent / "scripts" / "make_example_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "OUT", tmp_path)
    mod.main()
    for f in sorted(tmp_path.glob("*.csv")):
        assert f.read_bytes() == (SHIPPED_DIR / "data" / f.name).read_bytes(), f.name
