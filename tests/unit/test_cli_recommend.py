"""`dlbench recommend` through the command line: the recommendation, its reasons and the config it wrote."""
import numpy as np
import pandas as pd


def test_recommend_writes_a_starter_config(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "y": rng.integers(0, 2, 300)}).to_csv(
        tmp_path / "d.csv", index=False)
    code, out, err = run_cli("recommend", tmp_path / "d.csv", "--target", "y", "--output", tmp_path / "s.yaml")
    assert code == 0, err
    assert "recommended: MLP" in out and f"next: dlbench train {tmp_path / 's.yaml'}" in out
    assert (tmp_path / "s.yaml").is_file()
