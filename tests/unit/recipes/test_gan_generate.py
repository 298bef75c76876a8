"""`generate` on a table GAN: CSV in the data's units with the feature names; unconditional labels refused."""
import csv
import sys
from pathlib import Path

import numpy as np
import pytest

import dlbench
from dlbench.errors import UserError
from dlbench.run.load import load_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_gan_loop import gan_cfg  # noqa: E402


def generate(run_dir, **options):
    """What `dlbench generate` does: load the run, ask its recipe."""
    loaded = load_run(run_dir)
    return loaded.recipe.generate(loaded, **options)


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("tab") / "r"
    dlbench.train(gan_cfg(steps=4, eval_every=4), run_dir=d)
    return d


def test_csv_rows_carry_feature_names_in_data_units(table_run, tmp_path):
    res = generate(table_run, n=25, output=str(tmp_path / "rows.csv"))
    assert res["count"] == 25 and res["labels"] is None
    rows = list(csv.DictReader(open(tmp_path / "rows.csv")))
    assert len(rows) == 25 and list(rows[0]) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    ages = np.array([float(r["age"]) for r in rows])
    assert 0 < ages.mean() < 120  # years, not standardized units


def test_npz_and_png(table_run, tmp_path):
    generate(table_run, n=9, seed=1, output=str(tmp_path / "a.npz"))
    with np.load(tmp_path / "a.npz", allow_pickle=False) as f:
        assert f["x"].shape == (9, 10) and "y" not in f.files
    generate(table_run, n=9, output=str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").stat().st_size > 0


def test_refusals(table_run, tmp_path):
    with pytest.raises(UserError, match="unconditional"):
        generate(table_run, n=3, label="1", output=str(tmp_path / "x.csv"))
    (tmp_path / "taken.csv").write_text("keep me")
    with pytest.raises(UserError, match="already exists"):
        generate(table_run, n=3, output=str(tmp_path / "taken.csv"))
    assert (tmp_path / "taken.csv").read_text() == "keep me"
    with pytest.raises(UserError, match="no model.json"):
        generate(tmp_path, n=3, output=str(tmp_path / "y.csv"))
    with pytest.raises(UserError, match="at most"):
        generate(table_run, n=5000, output=str(tmp_path / "big.png"))
