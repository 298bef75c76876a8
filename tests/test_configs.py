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
