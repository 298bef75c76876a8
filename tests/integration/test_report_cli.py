"""`dlbench report` and `dlbench recommend` end to end through the CLI: files written, one-line errors, exit 2."""
from __future__ import annotations

import shutil

from tests.unit.report.fixtures import make_results, make_study


def test_report_run_study_results(run_cli, trained_run, tmp_path):
    run = tmp_path / "m1"
    shutil.copytree(trained_run, run)
    code, out, err = run_cli("report", run)
    assert code == 0, err
    assert out.strip() == str(run / "report.html") and (run / "report.html").stat().st_size > 10_000
    assert "wrote run report" in err and "warning" not in err

    study = make_study(tmp_path / "studies", trials=4)
    code, out, err = run_cli("report", study)
    assert code == 0, err
    assert (study / "report.html").is_file()

    results = make_results(tmp_path / "sub")
    code, out, err = run_cli("report", results)
    assert code == 0, err
    # beside results/, which may only hold what the MLPerf layout allows
    assert out.strip() == str(tmp_path / "sub" / "results-report.html") and not (results / "report.html").exists()
    code, out, err = run_cli("report", results, "--output", tmp_path / "b.html")
    assert code == 0 and (tmp_path / "b.html").is_file()


def test_report_unfinished_run_warns(run_cli, trained_run, tmp_path):
    d = tmp_path / "partial"
    d.mkdir()
    shutil.copy(trained_run / "config.yaml", d)
    shutil.copy(trained_run / "metrics.jsonl", d)
    code, out, err = run_cli("report", d)
    assert code == 0 and "warning: this run has not finished" in err and (d / "report.html").is_file()


def test_report_bad_paths(run_cli, tmp_path):
    for path, msg in ((tmp_path / "missing", "does not exist"), (tmp_path, "not a run, study or benchmark")):
        code, out, err = run_cli("report", path)
        assert code == 2 and msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_recommend_cli(run_cli, tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=80), "b": rng.choice(["x", "y"], 80), "churn": rng.choice(["yes", "no"], 80)}
                 ).to_csv("customers.csv", index=False)
    code, out, err = run_cli("recommend", "customers.csv", "--target", "churn")
    assert code == 0, err
    assert "recommended: MLP" in out and "wrote customers-mlp.yaml" in out and "next: dlbench train customers-mlp.yaml" in out
    code, out, err = run_cli("train", "customers-mlp.yaml", "-q", "-o", "train.steps=3", "-o", "train.eval_every=3",
                             "--run-dir", "runs/c")
    assert code == 0, err
    code, out, err = run_cli("recommend", "customers.csv", "--target", "churn")
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("recommend", "customers.csv", "--target", "nope")
    assert code == 2 and "no column 'nope'" in err
    (tmp_path / "x.bin").write_bytes(b"\0")
    code, out, err = run_cli("recommend", "x.bin")
    assert code == 2 and "cannot tell what kind of data" in err and "Traceback" not in err
