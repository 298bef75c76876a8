"""Error analysis per task (`errors(model, split, n, device)`), and the sample ids every data kind gives its splits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlbench.data.bundle import DataSpec, Split
from dlbench.errors import UserError
from dlbench.metrics.classification import classification_metrics
from dlbench.tasks import ClassificationTask, RegressionTask
from dlbench.tasks.errors import binary_outcome

CPU = torch.device("cpu")


class Lookup(torch.nn.Module):
    """A 'model' whose output for sample i is row i of a fixed table (the input holds i)."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)

    def forward(self, x):
        return self.table[x[:, 0].long()]


def indexed(n: int, y, ids=None) -> Split:
    return Split(torch.arange(n, dtype=torch.float32)[:, None], torch.as_tensor(y), ids=ids)


def test_classification_lists_mistakes_only_ranked_by_the_probability_of_the_true_class():
    probs = np.array([[0.9, 0.05, 0.05],   # 0 true 0: right
                      [0.2, 0.7, 0.1],     # 1 true 0: wrong, p_true 0.2
                      [0.05, 0.9, 0.05],   # 2 true 0: wrong, p_true 0.05 (worst)
                      [0.1, 0.1, 0.8],     # 3 true 2: right
                      [0.4, 0.1, 0.5],     # 4 true 1: wrong, p_true 0.1
                      [0.3, 0.3, 0.4]])    # 5 true 0: wrong, p_true 0.3
    spec = DataSpec("classification", (1,), 3, ["cat", "dog", "eel"])
    split = indexed(6, [0, 0, 0, 2, 1, 0], ids=[f"row {i + 1}" for i in range(6)])
    recs = ClassificationTask(spec).errors(Lookup(np.log(probs)), split, 10, CPU)
    assert [r["input"] for r in recs] == ["row 3", "row 5", "row 2", "row 6"]
    assert [r["rank"] for r in recs] == [1, 2, 3, 4]
    first = recs[0]
    assert (first["true"], first["predicted"]) == ("cat", "dog")
    assert first["p_true"] == pytest.approx(0.05, abs=1e-6) and first["confidence"] == pytest.approx(0.9, abs=1e-6)
    assert "outcome" not in first and "text" not in first, "three classes: no TP/FP naming, no texts here"
    assert len(ClassificationTask(spec).errors(Lookup(np.log(probs)), split, 2, CPU)) == 2


def test_binary_mistakes_are_named_fp_or_fn_with_label_1_positive():
    probs = np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [0.1, 0.9]])
    spec = DataSpec("classification", (1,), 2, ["no", "yes"])
    split = indexed(4, [0, 1, 1, 1])
    recs = ClassificationTask(spec).errors(Lookup(np.log(probs)), split, 5, CPU)
    assert [(r["outcome"], r["true"], r["predicted"]) for r in recs] == [("FN", "yes", "no"), ("FP", "no", "yes"),
                                                                         ("FN", "yes", "no")]
    assert recs[0]["input"] == "sample 1 of the split", "a split without ids names samples by position"
    assert [binary_outcome(t, p) for t, p in ((1, 1), (0, 0), (0, 1), (1, 0))] == ["TP", "TN", "FP", "FN"]


def test_binary_confusion_matrix_names_its_cells():
    m = classification_metrics(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 1, 1, 0]), 2, ["benign", "malignant"])
    b = m["binary"]
    assert (b["positive"], b["negative"]) == ("malignant", "benign")
    assert (b["tp"], b["tn"], b["fp"], b["fn"]) == (1, 1, 2, 1)
    assert "binary" not in classification_metrics(np.array([0, 1, 2]), np.array([0, 1, 2]), 3)


def test_classification_texts_come_with_the_row_that_names_them():
    from dlbench.data.text import TextSplit

    spec = DataSpec("classification", (1,), 2, ["neg", "pos"])
    split = TextSplit(torch.arange(3, dtype=torch.float32)[:, None], torch.tensor([1, 0, 1]),
                      ids=["row 1", "row 2", "row 4"], sources=["great", "awful", "fine"])
    recs = ClassificationTask(spec).errors(Lookup(np.log([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7]])), split, 5, CPU)
    assert [(r["input"], r["text"]) for r in recs] == [("row 1", "great")]
    named_by_text = TextSplit(split.x, split.y, ids=["great", "awful", "fine"], sources=["great", "awful", "fine"])
    rec = ClassificationTask(spec).errors(Lookup(np.log([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7]])), named_by_text, 5,
                                          CPU)[0]
    assert rec["input"] == "great" and "text" not in rec, "a text named by itself is shown once"


def test_regression_ranks_by_absolute_error_in_the_targets_units():
    spec = DataSpec("regression", (1,), extras={"target_mean": 10.0, "target_std": 2.0})
    y = np.array([10.0, 12.0, 8.0, 10.0], dtype=np.float32)
    scaled = np.array([[0.0], [-1.0], [0.5], [3.0]])      # predictions 10, 8, 11, 16
    recs = RegressionTask(spec).errors(Lookup(scaled), indexed(4, y, ids=["a", "b", "c", "d"]), 3, CPU)
    assert [r["input"] for r in recs] == ["d", "b", "c"]
    assert recs[0] == {"rank": 1, "input": "d", "true": 10.0, "predicted": 16.0, "error": 6.0, "abs_error": 6.0}
    assert recs[1]["error"] == pytest.approx(-4.0)


def test_multi_output_regression_lists_every_output():
    spec = DataSpec("regression", (1,), target_dim=2)
    y = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    recs = RegressionTask(spec).errors(Lookup([[1.0, -3.0], [1.0, 1.0]]), indexed(2, y), 5, CPU)
    assert recs[0]["true"] == [0.0, 0.0] and recs[0]["predicted"] == [1.0, -3.0]
    assert recs[0]["abs_error"] == pytest.approx(2.0) and recs[1]["abs_error"] == 0.0


@pytest.fixture(scope="module")
def seq2seq():
    from dlbench.data import build_data
    from dlbench.recipes.registry import build_model, get_recipe
    from dlbench.schema import parse_config

    cfg = parse_config({
        "data": {"kind": "numbers", "low": 0, "high": 999, "train_size": 100, "val_size": 6, "test_size": 6},
        "model": {"name": "transformer-seq2seq", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1}})
    bundle = build_data(cfg.data)
    torch.manual_seed(0)
    return bundle, build_model(cfg.model, bundle.spec), get_recipe(cfg.model.name).build_task(cfg, bundle.spec)


def test_translation_ranks_sentences_by_sentence_chrf(seq2seq, monkeypatch):
    from sacrebleu import sentence_chrf

    bundle, model, task = seq2seq
    val = bundle.val
    refs = list(val.targets)
    hyps = [refs[0], "zzz", refs[2][:-3], "", refs[4] + " un", refs[5]]
    monkeypatch.setattr(task, "translate", lambda *a, **k: hyps)
    recs = task.errors(model, val, 10, CPU)
    assert {r["reference"] for r in recs} == {refs[1], refs[2], refs[3], refs[4]}, "exact translations are no mistakes"
    scores = [r["chrf"] for r in recs]
    assert scores == sorted(scores)
    for r in recs:
        assert r["chrf"] == pytest.approx(sentence_chrf(r["hypothesis"], [r["reference"]]).score)
        i = refs.index(r["reference"])
        assert r["source"] == val.sources[i] and r["input"] == val.ids[i] and r["input"].startswith("number ")
    assert set(recs[0]) == {"rank", "input", "source", "reference", "hypothesis", "chrf"}


def test_translation_decodes_the_whole_split(seq2seq):
    bundle, model, task = seq2seq
    recs = task.errors(model, bundle.val, 3, CPU)  # an untrained model: every sentence is wrong
    assert len(recs) == 3 and all(isinstance(r["hypothesis"], str) for r in recs)


# --- ids: every data kind names its samples --------------------------------------------------------------

def build(**data):
    from dlbench.data import build_data
    from dlbench.schema import parse_config

    model = {"name": "transformer-seq2seq", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1} \
        if data["kind"] in ("numbers", "parallel-tsv") else {"name": "mlp"}
    return build_data(parse_config({"data": data, "model": model}).data)


def every_split(b):
    return b.train, b.val, b.open_test("test")


def test_csv_rows_are_the_files_data_rows_even_after_dropping_rows(tmp_path):
    import pandas as pd

    n = 40
    frame = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n) % 3, "y": np.arange(n) % 2})
    frame.loc[[4, 11], "a"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    b = build(kind="csv", path=str(tmp_path / "t.csv"), target="y", impute="drop", task="classification")
    rows = [r for s in every_split(b) for r in s.ids]
    assert sorted(rows, key=lambda r: int(r.split()[1])) == [f"row {i + 1}" for i in range(n) if i not in (4, 11)]
    for s in every_split(b):  # row K's target is the file's: y = (K - 1) % 2
        assert all((int(r.split()[1]) - 1) % 2 == int(t) for r, t in zip(s.ids, s.y))


def test_npz_and_builtin_ids_index_the_arrays(tmp_path):
    x = np.arange(60, dtype=np.float32).reshape(30, 2)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(30) % 2)
    b = build(kind="npz", path=str(tmp_path / "d.npz"), standardize=False)
    for s in every_split(b):
        for i, name in enumerate(s.ids):
            k = int(name[2:-1])
            assert name == f"x[{k}]" and s.x[i, 0].item() == x[k, 0]
    assert build(kind="digits").val.ids[0].startswith("digits[")
    assert build(kind="sklearn-table", dataset="iris").val.ids[0].startswith("iris[")
    m = build(kind="mnist1d", num_samples=100)
    assert m.val.ids[0].startswith("x[") and m.open_test("t").ids[0].startswith("x_test[")


def test_text_and_parallel_ids(tmp_path):
    import pandas as pd

    texts = [f"{w} {k}" for k in range(20) for w in ("good", "bad")]
    frame = pd.DataFrame({"text": texts, "label": ["pos", "neg"] * 20})
    frame.loc[3, "text"] = ""  # skipped: the rows after it keep their numbers
    frame.to_csv(tmp_path / "t.csv", index=False)
    b = build(kind="text-csv", path=str(tmp_path / "t.csv"))
    for s in every_split(b):
        for name, text in zip(s.ids, s.sources):
            assert text == texts[int(name.split()[1]) - 1]
    assert "row 4" not in {r for s in every_split(b) for r in s.ids}

    lines = [f"{k} a\t{k} b" for k in range(30)]
    lines.insert(2, "")
    lines.insert(5, lines[4])  # a repeat, dropped by dedupe: named by its first line
    (tmp_path / "p.tsv").write_text("\n".join(lines) + "\n")
    p = build(kind="parallel-tsv", path=str(tmp_path / "p.tsv"), tokenizer={"type": "word"})
    for s in every_split(p):
        for name, src in zip(s.ids, s.sources):
            assert lines[int(name.split()[1]) - 1].split("\t")[0] == src
    assert "line 6" not in {r for s in every_split(p) for r in s.ids}
    assert build(kind="numbers-language", size=40).val.ids == build(kind="numbers-language", size=40).val.sources


def test_image_ids_are_paths_and_subsets_keep_ids(tmp_path):
    from tests.unit.data.test_images_npz import make_folder

    root = make_folder(tmp_path / "im", n=6)
    for lazy in (False, True):
        b = build(kind="image-folder", path=str(root), val_fraction=0.2, test_fraction=0.2,
                  **({"in_memory_limit_mb": 1e-6} if lazy else {}))
        for s in every_split(b):
            assert s.in_memory is not lazy
            for i, name in enumerate(s.ids):
                label = int(s.y[i]) if s.in_memory else int(s.dataset[i][1])
                assert Path(name).is_file() and Path(name).parent.name == b.spec.class_names[label]
        assert b.train.subset(3).ids == b.train.ids[:3]


def test_gan_runs_refuse_to_list_mistakes(tmp_path):
    from dlbench.recipes.registry import get_recipe

    class Loaded:
        path = tmp_path

    with pytest.raises(UserError, match="no mistakes to list"):
        get_recipe("gan").check_errors(Loaded(), 5)
    get_recipe("gan").check_errors(Loaded(), 0)
    with pytest.raises(UserError, match="--errors -1"):
        get_recipe("mlp").check_errors(Loaded(), -1)
