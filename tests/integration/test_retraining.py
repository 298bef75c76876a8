"""Retraining end to end on a tiny case whose rule changes: train --init-from on new data beats the old model on
the new test split, evaluate --data scores a new file with the run's own preprocessing, compare says whether a
difference is significant, and the report shows both models on both test splits. Bad input: one line, exit 2."""

import json

import numpy as np
import pandas as pd
import pytest


def _table(n: int, new_rule: bool, seed: int) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    x1, x2 = r.normal(size=n), r.normal(size=n)
    label = (x1 + 1.5 * x2 > 0.3) if new_rule else (x1 > 0)
    return pd.DataFrame({"x1": x1, "x2": x2, "color": r.choice(["red", "blue"], size=n),
                         "label": np.where(label, "yes", "no")})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("retrain")
    _table(600, False, 0).to_csv(d / "old.csv", index=False)
    _table(600, True, 1).to_csv(d / "new.csv", index=False)
    _table(300, True, 2).to_csv(d / "holdout.csv", index=False)
    _table(50, True, 3).drop(columns=["x2"]).to_csv(d / "missing.csv", index=False)
    bad = _table(50, True, 4)
    bad.loc[0, "label"] = "maybe"
    bad.to_csv(d / "unknown_label.csv", index=False)
    return d


@pytest.fixture(scope="module")
def runs(files):
    import dlbench

    def cfg(data: str, **train):
        return {"data": {"kind": "csv", "path": str(files / data), "target": "label"},
                "model": {"name": "mlp", "hidden": [16]}, "train": {"steps": 150, "batch_size": 32, **train}}

    old = dlbench.train(cfg("old.csv"), run_dir=files / "old").run_dir
    new = dlbench.train(cfg("new.csv", init_from=str(old)), run_dir=files / "new").run_dir
    return old, new, cfg


def test_init_from_new_data_beats_the_old_model(runs):
    old, new, _ = runs
    result = json.loads((new / "result.json").read_text())
    table = result["retraining"]["table"]
    assert table["new model"]["new test"]["accuracy"] > table["old model"]["new test"]["accuracy"] + 0.1
    assert table["old model"]["old test"] == {k: v for k, v in json.loads((old / "result.json").read_text())["test"]
                                              .items() if isinstance(v, (int, float))}
    assert set(table["new model"]) == {"old test", "new test"}
    looks = [json.loads(line)["by"] for line in (old / "test_access.jsonl").read_text().splitlines()]
    assert looks == ["final test after training", f"retraining report of {new}"]
    assert f"init_from: {old}" in (new / "config.yaml").read_text()


def test_init_from_starts_from_the_old_weights(runs, files):
    import dlbench
    from dlbench.run.load import load_run

    old, _, cfg = runs
    # one step at a negligible learning rate: the new model is still the old one
    same = dlbench.train(cfg("new.csv", init_from=str(old), steps=1, early_stopping=None), overrides=["optim.lr=1e-12"],
                         run_dir=files / "same").run_dir
    a, b = load_run(old).model.state_dict(), load_run(same).model.state_dict()
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6) for k in a)
    refit = dlbench.train(cfg("new.csv", init_from=str(old), init_preprocessing="refit", steps=20),
                          run_dir=files / "refit")
    assert json.loads((refit.run_dir / "model.json").read_text())["preprocessing"] != \
        json.loads((old / "model.json").read_text())["preprocessing"]


def test_evaluate_data_and_compare(runs, files, run_cli):
    old, new, _ = runs
    code, stdout, _ = run_cli("evaluate", old, "--data", files / "holdout.csv", "--json")
    m = json.loads(stdout)
    assert code == 0 and m["rows"] == 300 and 0.6 < m["accuracy"] < 0.9
    code, stdout, err = run_cli("compare", old, new, "--data", files / "holdout.csv")
    r = json.loads(stdout.strip().splitlines()[-1])
    assert code == 0 and r["rows"] == 300 and r["test"]["significant"] and r["test"]["p_value"] < 1e-6
    assert r["test"]["only_b_right"] > r["test"]["only_a_right"] and "B (" in r["verdict"] and "verdict" in err
    assert r["test"]["ci_low"] > 0  # the paired bootstrap interval of the accuracy difference excludes 0
    code, stdout, _ = run_cli("compare", new, new, "--data", files / "holdout.csv", "--json")
    same = json.loads(stdout)
    assert not same["test"]["significant"] and same["test"]["p_value"] == 1.0
    assert same["verdict"].startswith("no significant difference")


def test_report_shows_both_models(runs, run_cli):
    _, new, _ = runs
    code, _, _ = run_cli("report", new)
    html = (new / "report.html").read_text()
    assert code == 0 and "Retraining: both models on the old and the new test data" in html
    assert html.count("new model on new test") == 1


def test_bad_input_is_one_line(runs, files, run_cli, write_yaml):
    old, _, cfg = runs
    code, _, err = run_cli("evaluate", old, "--data", files / "missing.csv")
    assert code == 2 and "missing column x2" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("evaluate", old, "--data", files / "unknown_label.csv")
    assert code == 2 and "'maybe' are not among the model's classes" in err
    other = cfg("new.csv")
    other["model"]["hidden"] = [32]
    code, _, err = run_cli("train", write_yaml(other), "--init-from", old, "--run-dir", files / "never")
    assert code == 2 and "another architecture (model.hidden is [16] there, [32] here)" in err
    assert not (files / "never").exists()
