"""End-to-end CLI runs on tiny configs: train, evaluate, predict, configs, resume."""
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, tiny


def test_train_writes_the_run_directory_contract(run_cli, write_yaml, tmp_path):
    run = tmp_path / "r1"
    code, out, err = run_cli("train", write_yaml(tiny()), "-o", "optim.lr=5e-3", "-o", "train.steps=30",
                             "--run-dir", run, "--quiet")
    assert code == 0, err
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "checkpoints", "model.safetensors", "model.json", "result.json"} <= names
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["optim"]["lr"] == 5e-3 and cfg["train"]["steps"] == 30 and cfg["train"]["batch_size"] == 32
    result = json.loads((run / "result.json").read_text())
    assert {"val", "test", "diagnosis", "timing", "versions"} <= set(result)
    assert result["data"]["test_opened"] == ["final test after training"]
    assert result["diagnosis"]["verdict"] in {"good fit", "overfitting", "underfitting", "undertrained"}
    info = json.loads((run / "model.json").read_text())
    assert len(info["sha256"]) == 64 and info["preprocessing"]["kind"] == "array"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [20, 30] and "val.accuracy" in evals[0] and "train.accuracy" in evals[0]
    assert "diagnosis:" in out and "validation" in out


def test_a_run_directory_is_never_overwritten(run_cli, write_yaml, trained_run):
    before = (trained_run / "model.safetensors").read_bytes()
    code, _, err = run_cli("train", write_yaml(tiny()), "--run-dir", trained_run, "-q")
    assert code == 2 and "already exists" in err and "--resume" in err
    assert (trained_run / "model.safetensors").read_bytes() == before


def test_default_run_dir_gets_a_fresh_name(run_cli, write_yaml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = write_yaml(tiny(steps=5, eval_every=5))
    assert run_cli("train", p, "-q")[0] == 0
    assert run_cli("train", p, "-q")[0] == 0
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_evaluate_prints_table_and_json_with_confusion_matrix(run_cli, trained_run):
    code, out, err = run_cli("evaluate", trained_run, "--split", "test")
    assert code == 0, err
    m = json.loads(out.strip().splitlines()[-1])
    assert len(m["confusion_matrix"]) == 10 and "macro_f1" in m and "per_class" in m
    assert "confusion matrix" in err
    stored = json.loads((trained_run / "result.json").read_text())["test"]
    assert m["accuracy"] == pytest.approx(stored["accuracy"])


def test_predict_csv_and_npz(run_cli, trained_run, tmp_path):
    from dlbench.schema import parse_config
    from dlbench.data import build_data

    bundle = build_data(parse_config(tiny()).data)
    x = bundle.val.x[:7].numpy().reshape(7, -1)
    pd.DataFrame(x, columns=[f"x{i}" for i in range(40)]).to_csv(tmp_path / "in.csv", index=False)
    code, _, err = run_cli("predict", trained_run, tmp_path / "in.csv", "--output", tmp_path / "p.csv")
    assert code == 0, err
    preds = pd.read_csv(tmp_path / "p.csv")
    assert len(preds) == 7 and "label" in preds and "prob_9" in preds
    assert np.allclose(preds[[f"prob_{i}" for i in range(10)]].sum(axis=1), 1, atol=1e-5)
    np.savez(tmp_path / "in.npz", x=x)
    code, out, _ = run_cli("predict", trained_run, tmp_path / "in.npz")
    assert code == 0 and out.splitlines()[0].startswith("label,prob_0")
    assert (preds["label"].astype(str).tolist() == [line.split(",")[0] for line in out.splitlines()[1:]])
    # never overwrites an existing output
    code, _, err = run_cli("predict", trained_run, tmp_path / "in.csv", "--output", tmp_path / "p.csv")
    assert code == 2 and "already exists" in err


def test_tabular_run_end_to_end_with_csv_predict(run_cli, write_yaml, tmp_path):
    from tests.unit.data.test_tabular import make_csv

    p = make_csv(tmp_path)
    cfg = tiny(model="mlp")
    cfg["data"] = {"kind": "csv", "path": str(p), "target": "churn"}
    code, _, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "tab", "-q")
    assert code == 0, err
    frame = pd.read_csv(p).drop(columns=["churn"]).head(5)
    frame.to_csv(tmp_path / "new.csv", index=False)
    code, out, err = run_cli("predict", tmp_path / "tab", tmp_path / "new.csv")
    assert code == 0, err
    assert set(pd.read_csv(tmp_path / "new.csv").columns) == {"age", "city", "income"}
    assert out.splitlines()[0] == "label,prob_no,prob_yes" and len(out.splitlines()) == 6


def test_regression_run_end_to_end(run_cli, write_yaml, tmp_path):
    code, _, err = run_cli("train", write_yaml(tiny("diabetes", "mlp")), "--run-dir", tmp_path / "reg", "-q")
    assert code == 0, err
    code, out, _ = run_cli("evaluate", tmp_path / "reg", "--split", "val", "--json")
    m = json.loads(out)
    assert {"mse", "mae", "r2", "rmse"} <= set(m)


def test_configs_list_show_copy(run_cli, tmp_path):
    code, out, _ = run_cli("configs")
    assert code == 0 and "mnist1d-cnn" in out and "ConvBase" in out
    code, out, _ = run_cli("configs", "show", "digits-cnn")
    assert code == 0 and "kind: digits" in out
    code, out, _ = run_cli("configs", "show", "digits-cnn", "--resolved")
    assert "weight_decay" in out and "eval_train_samples" in out
    assert run_cli("configs", "copy", "digits-cnn", tmp_path)[0] == 0
    assert (tmp_path / "digits-cnn.yaml").exists()
    code, _, err = run_cli("configs", "copy", "digits-cnn", tmp_path)
    assert code == 2 and "already exists" in err


def test_resume_continues_and_extends(run_cli, write_yaml, tmp_path):
    p = write_yaml(tiny(steps=20))
    run = tmp_path / "r"
    assert run_cli("train", p, "--run-dir", run, "-q")[0] == 0
    code, _, err = run_cli("train", p, "--run-dir", run, "--resume", "-o", "train.steps=40", "-q")
    assert code == 0, err
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals if e["kind"] == "eval"] == [20, 40]
    code, _, err = run_cli("train", p, "--run-dir", run, "--resume", "-o", "optim.lr=1.0", "-q")
    assert code == 2 and "optim.lr" in err


def test_resume_needs_only_the_run_directory(run_cli, write_yaml, tmp_path):
    run = tmp_path / "r"
    assert run_cli("train", write_yaml(tiny(steps=20)), "--run-dir", run, "-q", "-o", "optim.lr=5e-3")[0] == 0
    code, out, err = run_cli("train", "--run-dir", run, "--resume", "-o", "train.steps=40")  # no config
    assert code == 0, err
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals if e["kind"] == "eval"] == [20, 40]
    assert yaml.safe_load((run / "config.yaml").read_text())["optim"]["lr"] == 5e-3  # its own -o options kept
    assert "kept the weights of step" in out
    code, _, err = run_cli("train", "--resume", run, "-o", "train.steps=60", "-q")  # the run in CONFIG's place
    assert code == 0, err
    other = write_yaml(tiny("diabetes", "mlp"))
    code, _, err = run_cli("train", other, "--run-dir", run, "--resume", "-q")
    assert code == 2 and "not a run of that config" in err


def test_the_summary_says_which_step_was_kept(run_cli, write_yaml, tmp_path):
    run = tmp_path / "r"
    code, out, err = run_cli("train", write_yaml(tiny(steps=40)), "--run-dir", run)
    assert code == 0, err
    best = json.loads((run / "result.json").read_text())["best"]
    assert f"kept the weights of step {best['step']}" in " ".join(out.split())


def test_console_script_and_public_api():
    r = subprocess.run([str(REPO / ".venv/bin/dlbench"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "train" in r.stdout and "evaluate" in r.stdout
    import dlbench

    assert callable(dlbench.train) and callable(dlbench.evaluate) and callable(dlbench.predict)


def test_image_folder_run_and_predict_on_a_folder(run_cli, write_yaml, tmp_path):
    from tests.unit.data.test_images_npz import make_folder

    root = make_folder(tmp_path / "imgs", n=10, mixed=True)
    cfg = tiny(steps=10, eval_every=5)
    cfg["data"] = {"kind": "image-folder", "path": str(root), "size": [8, 8], "val_fraction": 0.2,
                   "test_fraction": 0.2}
    cfg["model"] = {"name": "cnn", "stages": [{"channels": 4}]}
    code, _, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "img", "-q")
    assert code == 0, err
    code, out, err = run_cli("predict", tmp_path / "img", root / "dogs")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "input,label,prob_cats,prob_dogs" and len(lines) == 11


def test_typer_exit_codes_propagate(run_cli):
    import typer

    from dlbench import cli

    @cli.app.command("zz-exit-test", hidden=True)
    def _zz():
        raise typer.Exit(3)

    assert run_cli("zz-exit-test")[0] == 3
