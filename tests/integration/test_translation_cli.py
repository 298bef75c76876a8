"""Translation and text classification through the CLI: train, evaluate, predict, and bad input."""
import json

import pytest
import yaml

from tests.conftest import REPO


def translation(**data) -> dict:
    """English -> French numbers below 1000: learns to BLEU > 50 in a few seconds on one core."""
    d = {"kind": "numbers", "low": 0, "high": 999, "train_size": 500, "val_size": 40, "test_size": 60, **data}
    return {"data": d,
            "model": {"name": "transformer-seq2seq", "d_model": 48, "heads": 4, "encoder_layers": 1, "decoder_layers": 1,
                      "ff": 96, "dropout": 0.0},
            "optim": {"lr": 5e-3, "warmup_steps": 20, "schedule": "inverse_sqrt", "grad_clip": 1.0},
            "train": {"steps": 150, "batch_size": 32, "eval_every": 75, "log_every": 25, "checkpoint_every": 150,
                      "eval_train_samples": 50, "threads": 1, "label_smoothing": 0.1,
                      "early_stopping": {"metric": "val.bleu", "patience": 2}},
            "name": "tiny-numbers"}


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory):
    import dlbench

    d = tmp_path_factory.mktemp("runs") / "t1"
    dlbench.train(translation(), run_dir=d)
    return d


def test_train_logs_validation_bleu_and_tests_once(translation_run):
    result = json.loads((translation_run / "result.json").read_text())
    assert result["task"] == "seq2seq" and result["best"]["metric"] == "val.bleu"
    assert result["test"]["bleu"] > 50, result["test"]
    assert result["test"]["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    evals = [json.loads(line) for line in (translation_run / "metrics.jsonl").read_text().splitlines()
             if '"eval"' in line]
    assert [e["step"] for e in evals] == [75, 150] and all("val.bleu" in e and "val.chrf" in e for e in evals)
    info = json.loads((translation_run / "model.json").read_text())
    assert info["preprocessing"]["kind"] == "text" and info["preprocessing"]["tokenizer"]["type"] == "word"
    assert info["spec"]["extras"]["target_tokenizer"]["type"] == "word"


def test_evaluate_reports_bleu_chrf_signature_and_samples(run_cli, translation_run):
    code, out, err = run_cli("evaluate", translation_run, "--split", "test")
    assert code == 0, err
    m = json.loads(out.strip().splitlines()[-1])
    stored = json.loads((translation_run / "result.json").read_text())["test"]
    assert m["bleu"] == pytest.approx(stored["bleu"]) and "chrf" in m and "version:" in m["chrf_signature"]
    assert len(m["samples"]) == 10 and {"source", "reference", "hypothesis"} == set(m["samples"][0])
    assert "bleu" in err  # the metrics table


def test_predict_from_stdin_and_from_a_file_with_beam(run_cli, translation_run, tmp_path):
    code, out, err = run_cli("predict", translation_run, "-", stdin="three hundred and forty-two\nseven\n")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(lines)
    src = tmp_path / "sentences.txt"
    src.write_text("three hundred and forty-two\nseven\n")
    dest = tmp_path / "out.txt"
    code, _, err = run_cli("predict", translation_run, src, "--output", dest, "--beam", "4")
    assert code == 0, err
    assert len(dest.read_text().splitlines()) == 2 and "wrote 2 predictions" in err
    code, _, err = run_cli("predict", translation_run, src, "--output", tmp_path / "t.csv")
    assert code == 0 and (tmp_path / "t.csv").read_text().startswith("input,translation")


def test_predict_warns_about_unknown_words_and_refuses_too_long_input(run_cli, translation_run, caplog):
    code, out, err = run_cli("predict", translation_run, "-", stdin="three hundred and zorglub\n")
    warned = caplog.text  # in this process the warning goes to pytest's log capture; on the CLI, to stderr
    assert code == 0 and "1 unknown token(s)" in warned and "'zorglub'" in warned and len(out.splitlines()) == 1
    code, _, err = run_cli("predict", translation_run, "-", stdin="one " * 200 + "\n")
    assert code == 2 and err.startswith("error: input 1 has 201 tokens; the model accepts at most 128")


def test_parallel_tsv_trains_and_bad_files_are_one_line_errors(run_cli, write_yaml, tmp_path, translation_run):
    from num2words import num2words

    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("".join(f"{num2words(k)}\t{num2words(k, lang='fr')}\n" for k in range(0, 1000, 7)))
    cfg = translation(kind="parallel-tsv", path=str(corpus))
    for k in ("low", "high", "train_size", "val_size", "test_size"):
        del cfg["data"][k]
    cfg["train"].update(steps=10, eval_every=10)
    code, out, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "p1", "-q")
    assert code == 0, err
    corpus.write_text("just text\nno tabs at all\nx\ty\n")
    code, _, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "p2", "-q")
    assert code == 2 and "2 of 3 lines are not `source<TAB>target`" in err and "Traceback" not in err
    corpus.write_text("")
    code, _, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "p3", "-q")
    assert code == 2 and "the file is empty" in err


def test_unsupported_language_is_a_config_error(run_cli, write_yaml, tmp_path):
    code, _, err = run_cli("train", write_yaml(translation(target_lang="klingon")), "--run-dir", tmp_path / "x")
    assert code == 2 and "num2words does not support language 'klingon'" in err and "Traceback" not in err


def test_text_csv_classification_train_and_predict(run_cli, write_yaml, tmp_path):
    import pandas as pd

    rows = [(f"{w} {k}", "pos" if w in ("good", "great") else "neg") for k in range(40)
            for w in ("good", "great", "bad", "awful")]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "texts.csv", index=False)
    cfg = {"data": {"kind": "text-csv", "path": str(tmp_path / "texts.csv")},
           "model": {"name": "transformer", "d_model": 16, "heads": 2, "layers": 1},
           "optim": {"lr": 1e-2}, "train": {"steps": 40, "batch_size": 32, "eval_every": 40, "threads": 1}}
    code, out, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "c1", "-q")
    assert code == 0, err
    result = json.loads((tmp_path / "c1" / "result.json").read_text())
    assert result["test"]["accuracy"] > 0.9 and "confusion_matrix" in result["test"]
    code, out, err = run_cli("predict", tmp_path / "c1", "-", stdin="great 3\nawful 7\n")
    assert code == 0, err
    assert out.splitlines()[0].startswith("input,label,prob_neg,prob_pos")
    assert [line.split(",")[1] for line in out.splitlines()[1:]] == ["pos", "neg"]


def test_shipped_text_configs_name_their_measured_result():
    for name in ("numbers-en-fr-transformer", "numbers-en-fr-rnn", "numbers-language-transformer"):
        text = (REPO / "src" / "dlbench" / "configs" / f"{name}.yaml").read_text()
        head = text.splitlines()[:3]
        assert head[1] == f"# $ dlbench train configs/{name}.yaml" and head[2].startswith("# measured")
        yaml.safe_load(text)
