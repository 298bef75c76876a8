import numpy as np
import pandas as pd
import pytest

from dlbench.config import parse_config
from dlbench.data import build_data
from dlbench.errors import UserError
from tests.conftest import tiny


def _cfg(path, **kw):
    raw = tiny(model="mlp")
    raw["data"] = {"kind": "csv", "path": str(path), **kw}
    return parse_config(raw).data


def make_csv(tmp_path, n=120, regression=False, missing=False):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.normal(40, 10, n), "city": rng.choice(["a", "b", "c"], n),
                       "income": rng.normal(5, 2, n)})
    df["churn"] = (df["income"] + rng.normal(0, 1, n) > 5).map({True: "yes", False: "no"})
    if regression:
        df["churn"] = df["income"] * 3.0 + 0.5
    if missing:
        df.loc[[3, 7], "age"] = np.nan
    p = tmp_path / "d.csv"
    df.to_csv(p, index=False)
    return p


def test_csv_classification_inferred_and_one_hot(tmp_path):
    b = build_data(_cfg(make_csv(tmp_path), target="churn"))
    assert b.spec.task == "classification" and b.spec.class_names == ["no", "yes"]
    assert b.spec.input_shape == (5,)  # age, income + 3 cities
    pre = b.preprocessing
    assert [n["name"] for n in pre["numeric"]] == ["age", "income"]
    assert pre["categorical"][0]["categories"] == ["a", "b", "c"]


def test_csv_regression_inferred(tmp_path):
    b = build_data(_cfg(make_csv(tmp_path, regression=True), target="churn"))
    assert b.spec.task == "regression"


def test_csv_missing_target_column_suggests(tmp_path):
    with pytest.raises(UserError, match="no target column 'chrn'.*did you mean 'churn'"):
        build_data(_cfg(make_csv(tmp_path), target="chrn"))


def test_csv_non_numeric_regression_target(tmp_path):
    with pytest.raises(UserError, match="regression target 'city' is not numeric"):
        build_data(_cfg(make_csv(tmp_path), target="city", task="regression"))


def test_csv_missing_values_named_and_impute_option(tmp_path):
    p = make_csv(tmp_path, missing=True)
    with pytest.raises(UserError, match=r"missing values in column\(s\) age \(rows 3, 7\).*impute"):
        build_data(_cfg(p, target="churn"))
    b = build_data(_cfg(p, target="churn", impute="median"))
    assert not np.isnan(b.train.x.numpy()).any()
    assert len(build_data(_cfg(p, target="churn", impute="drop")).train) < len(b.train)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        build_data(_cfg(tmp_path / "nope.csv", target="y"))
