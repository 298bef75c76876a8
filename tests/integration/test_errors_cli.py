"""`dlbench evaluate RUN --errors N` through the CLI: the worst mistakes, named as the data names them (CSV rows,
image paths, texts, sentences), the binary confusion matrix by TP/TN/FP/FN, and the report's same list."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny

MLP = {"name": "mlp", "hidden": [8]}


def train(run_cli, write_yaml, tmp_path, data: dict, model: dict | None = None, name: str = "run", **train) -> Path:
    cfg = tiny(steps=train.pop("steps", 20), eval_every=10)
    cfg["train"].update(threads=1, **train)
    cfg["data"], cfg["model"], cfg["name"] = data, model or MLP, name
    run = tmp_path / name
    code, _, err = run_cli("train", write_yaml(cfg, f"{name}.yaml"), "--run-dir", run, "-q")
    assert code == 0, err
    return run


def evaluate(run_cli, run, *args) -> tuple[dict, str]:
    code, out, err = run_cli("evaluate", run, *map(str, args))
    assert code == 0, err
    return json.loads(out), err


def row_of(frame: pd.DataFrame, name: str) -> pd.Series:
    """'row K' is the K-th data row of the file (1-based, the header not counted)."""
    word, k = name.split()
    assert word == "row" and int(k) >= 1
    return frame.iloc[int(k) - 1]


@pytest.fixture
def noisy_csv(tmp_path):
    """Labels unrelated to the features: a model trained on it surely makes mistakes."""
    def _make(name: str, labels, n: int = 150) -> Path:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"a": rng.normal(size=n).round(3), "b": rng.normal(size=n).round(3),
                              "target": rng.choice(labels, n)})
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path
    return _make


def test_csv_classification_mistakes_name_the_files_rows(run_cli, write_yaml, tmp_path, noisy_csv):
    path = noisy_csv("three.csv", ["ant", "bee", "cat"])
    run = train(run_cli, write_yaml, tmp_path, {"kind": "csv", "path": str(path), "target": "target"})
    m, err = evaluate(run_cli, run, "--errors", 20)
    frame = pd.read_csv(path)
    recs = m["errors"]
    assert 0 < len(recs) <= 20 and [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
    assert "lowest probability given to the true class" in m["errors_ranked_by"]
    for r in recs:
        row = row_of(frame, r["input"])
        assert r["true"] == row["target"] and r["predicted"] != r["true"]
        assert r["p_true"] < r["confidence"] and 0 <= r["p_true"] <= 1
    assert [r["p_true"] for r in recs] == sorted(r["p_true"] for r in recs)
    n_wrong = round((1 - m["accuracy"]) * sum(m["per_class"][c]["support"] for c in m["per_class"]))
    assert len(recs) == min(20, n_wrong), "every misclassified sample, and only those"
    # the table goes to stderr with the JSON to stdout
    assert "worst mistakes on val" in err and recs[0]["input"] in err and "outcome" not in recs[0]
    # --json: the same records, no tables
    code, out, err = run_cli("evaluate", run, "--errors", "3", "--json")
    assert code == 0 and "worst mistakes" not in err and json.loads(out)["errors"] == recs[:3]
    # errors follow --split
    t, _ = evaluate(run_cli, run, "--errors", 5, "--split", "test", "--json")
    assert t["errors"] and not {r["input"] for r in t["errors"]} & {r["input"] for r in recs}
    for r in t["errors"]:
        assert row_of(frame, r["input"])["target"] == r["true"]
    # without --errors evaluate is unchanged
    plain, _ = evaluate(run_cli, run, "--json")
    assert "errors" not in plain


def test_binary_csv_names_tp_tn_fp_fn(run_cli, write_yaml, tmp_path, noisy_csv):
    path = noisy_csv("binary.csv", ["no", "yes"])
    run = train(run_cli, write_yaml, tmp_path, {"kind": "csv", "path": str(path), "target": "target"})
    m, err = evaluate(run_cli, run, "--errors", 50)
    b = m["binary"]
    assert (b["positive"], b["negative"]) == ("yes", "no") and "label 1" in b["positive_is"]
    cm = m["confusion_matrix"]
    assert [[b["tn"], b["fp"]], [b["fn"], b["tp"]]] == cm
    assert b["fp"] + b["fn"] == len(m["errors"]) and m["errors"]
    for r in m["errors"]:
        assert r["outcome"] == ("FN" if r["true"] == "yes" else "FP")
    for cell, count in (("TN", b["tn"]), ("FP", b["fp"]), ("FN", b["fn"]), ("TP", b["tp"])):
        assert f"{cell} {count}" in err
    assert "positive class: 'yes'" in err


def test_csv_regression_lists_the_largest_errors(run_cli, write_yaml, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=120).round(3)})
    frame["y"] = (3 * frame["a"] + rng.normal(size=120)).round(3)
    frame.to_csv(tmp_path / "reg.csv", index=False)
    run = train(run_cli, write_yaml, tmp_path, {"kind": "csv", "path": str(tmp_path / "reg.csv"), "target": "y",
                                                "task": "regression"})
    m, err = evaluate(run_cli, run, "--errors", 5)
    recs = m["errors"]
    assert len(recs) == 5 and "largest absolute error" in m["errors_ranked_by"]
    for r in recs:
        assert r["true"] == pytest.approx(row_of(frame, r["input"])["y"], abs=1e-4)
        assert r["error"] == pytest.approx(r["predicted"] - r["true"], abs=1e-6)
        assert r["abs_error"] == pytest.approx(abs(r["error"]), abs=1e-6)
    assert [r["abs_error"] for r in recs] == sorted((r["abs_error"] for r in recs), reverse=True)
    assert recs[0]["abs_error"] >= m["mae"]


def test_image_folder_mistakes_are_image_paths(run_cli, write_yaml, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for c in ("cats", "dogs"):
        (root / c).mkdir(parents=True)
        for i in range(15):  # noise: the classes cannot be told apart
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8), "L").save(root / c / f"{c}{i}.png")
    run = train(run_cli, write_yaml, tmp_path, {"kind": "image-folder", "path": str(root), "val_fraction": 0.3,
                                                "test_fraction": 0.2},
                {"name": "cnn", "stages": [{"channels": 4}]}, steps=4)
    m, err = evaluate(run_cli, run, "--errors", 20)
    assert m["errors"]
    for r in m["errors"]:
        p = Path(r["input"])
        assert p.is_file() and p.parent.parent == root and p.parent.name == r["true"]
    assert Path(m["errors"][0]["input"]).name in err


def test_text_csv_mistakes_show_the_row_and_its_text(run_cli, write_yaml, tmp_path):
    rng = np.random.default_rng(0)
    words = ["red", "green", "blue", "big", "small", "fast", "slow"]
    frame = pd.DataFrame({"text": [" ".join(rng.choice(words, 3)) for _ in range(80)],
                          "label": rng.choice(["pos", "neg"], 80)})
    frame.to_csv(tmp_path / "texts.csv", index=False)
    run = train(run_cli, write_yaml, tmp_path, {"kind": "text-csv", "path": str(tmp_path / "texts.csv")},
                {"name": "transformer", "d_model": 8, "heads": 2, "layers": 1}, steps=4)
    m, err = evaluate(run_cli, run, "--errors", 10)
    assert m["errors"]
    for r in m["errors"]:
        row = row_of(frame, r["input"])
        assert r["text"] == row["text"] and r["true"] == row["label"]


def test_translation_lists_the_worst_sentences_by_chrf(run_cli, write_yaml, tmp_path):
    from num2words import num2words
    from sacrebleu import sentence_chrf

    run = train(run_cli, write_yaml, tmp_path,
                {"kind": "numbers", "train_size": 200, "val_size": 30, "test_size": 30, "tokenizer": {"type": "word"}},
                {"name": "transformer", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1,
                 "decode": {"bleu_samples": 8}}, steps=12, eval_every=6)
    m, err = evaluate(run_cli, run, "--errors", 5)
    recs = m["errors"]
    assert len(recs) == 5 and "sentence-level chrF" in m["errors_ranked_by"]
    assert [r["chrf"] for r in recs] == sorted(r["chrf"] for r in recs)
    for r in recs:
        k = int(r["input"].split()[1])
        assert r["source"] == num2words(k, lang="en") and r["reference"] == num2words(k, lang="fr")
        assert r["chrf"] == pytest.approx(sentence_chrf(r["hypothesis"], [r["reference"]]).score)
        assert r["hypothesis"] != r["reference"]
    assert "chrf" in err and recs[0]["input"] in err

    # the report lists the same sentences (validation only)
    code, _, e = run_cli("report", run, "--output", tmp_path / "t.html")
    assert code == 0, e
    html = (tmp_path / "t.html").read_text()
    assert "Worst mistakes (validation)" in html and recs[0]["reference"] in html


def test_report_lists_the_validation_mistakes_of_a_csv_run(run_cli, write_yaml, tmp_path, noisy_csv, monkeypatch):
    from dlbench.data.bundle import DataBundle
    from dlbench.report import build_report
    from dlbench.report.document import Table

    path = noisy_csv("report.csv", ["no", "yes"])
    run = train(run_cli, write_yaml, tmp_path, {"kind": "csv", "path": str(path), "target": "target"})
    m, _ = evaluate(run_cli, run, "--errors", 20, "--json")

    def sealed(self, purpose):
        raise AssertionError(f"the report opened the test split ({purpose})")

    monkeypatch.setattr(DataBundle, "open_test", sealed)
    r = build_report(run)
    sec = next(s for s in r.sections if s.title == "Worst mistakes (validation)")
    table = next(b for b in sec.blocks if isinstance(b, Table))
    assert [row[1] for row in table.rows] == [x["input"] for x in m["errors"]]
    assert table.columns[:4] == ["rank", "input", "true", "predicted"] and "outcome" in table.columns
    assert "header not counted" in table.caption
    cm = next(s for s in r.sections if s.title == "Confusion matrix and per-class results")
    outcome = next(b for b in cm.blocks if isinstance(b, Table) and "positive" in b.caption)
    assert outcome.rows[1][2] == f"TP {m['binary']['tp']}" and outcome.rows[0][1] == f"TN {m['binary']['tn']}"


def test_errors_must_be_a_count(run_cli, trained_run):
    code, _, err = run_cli("evaluate", trained_run, "--errors", "-2")
    assert code == 2 and "Traceback" not in err
