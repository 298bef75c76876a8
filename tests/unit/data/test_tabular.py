import numpy as np
import pandas as pd
import pytest

from dlbench.schema import parse_config
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


def _table(n=200):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": rng.integers(0, 2, n)})


def _write(tmp_path, frame):
    p = tmp_path / "t.csv"
    frame.to_csv(p, index=False)
    return p


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_csv_infinite_feature_names_row_and_column(tmp_path, value):
    f = _table()
    f.loc[[7, 9], "b"] = value
    with pytest.raises(UserError, match=rf"t.csv: column b holds {value} in row 7 and 1 more row"):
        build_data(_cfg(_write(tmp_path, f), target="y"))


def test_infinite_feature_at_predict_time_is_refused():
    from dlbench.data.preprocess import TabularPreprocessor

    pre = TabularPreprocessor.fit(_table(), ["a", "b"], "none")
    f = _table(5)
    f.loc[2, "a"] = np.inf
    with pytest.raises(UserError, match="column a holds inf in row 2"):
        pre.transform(f)


def test_csv_infinite_regression_target(tmp_path):
    f = _table().astype({"y": float})
    f.loc[4, "y"] = np.inf
    with pytest.raises(UserError, match="regression target 'y' holds inf in row 4"):
        build_data(_cfg(_write(tmp_path, f), target="y", task="regression"))


def test_csv_single_class_target_is_refused(tmp_path):
    f = _table().assign(y="yes")
    with pytest.raises(UserError, match="target column 'y' has a single value \\('yes'\\): nothing to learn"):
        build_data(_cfg(_write(tmp_path, f), target="y"))


def test_csv_numeric_column_with_stray_words_names_the_rows(tmp_path):
    f = _table().astype({"a": object})
    f.loc[[4, 90], "a"] = ["?", "unknown"]
    with pytest.raises(UserError, match=r"column a is numbers except 2 cell\(s\): row 4 holds '\?', row 90 holds "
                                        r"'unknown'.*200 one-hot categories"):
        build_data(_cfg(_write(tmp_path, f), target="y"))


def test_csv_text_columns_with_a_few_numbers_stay_categorical(tmp_path):
    f = _table().assign(code=[str(i % 30) for i in range(200)])  # 30 numeric codes: categories, not numbers
    f.loc[3, "code"] = "other"
    assert build_data(_cfg(_write(tmp_path, f), target="y")).spec.input_shape == (2 + 31,)


@pytest.mark.parametrize("where,line", [("first", 2), ("last", 201)])
def test_csv_row_with_extra_fields_is_named(tmp_path, where, line):
    header, *rows = _table().to_csv(index=False).strip().split("\n")
    i = 0 if where == "first" else -1
    rows[i] += ",9"
    p = tmp_path / "t.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(UserError, match=f"t.csv: line {line} has 4 fields, the header has 3"):
        build_data(_cfg(p, target="y"))
