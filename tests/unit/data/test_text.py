"""Text datasets: the numbers translation set, parallel TSV files, text CSVs, generated language-id."""
import logging

import numpy as np
import pytest

from dlbench.schema import parse_config
from dlbench.data import build_data
from dlbench.data.text import NumbersData, sample_numbers
from dlbench.data.tokenize import BOS, EOS, PAD, tokenizer_from_json
from dlbench.errors import UserError

MODEL = {"name": "transformer-seq2seq", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1}


def data_cfg(**data):
    model = dict(MODEL) if data.get("kind") in ("numbers", "parallel-tsv") else {"name": "transformer", "d_model": 16,
                                                                                 "heads": 2}
    return parse_config({"data": data, "model": model}).data


def small_numbers(**kw):
    return data_cfg(kind="numbers", low=0, high=9999, train_size=300, val_size=40, test_size=60, **kw)


def test_numbers_splits_are_disjoint_and_reproducible():
    b = build_data(small_numbers())
    train, val, test = b.train, b.val, b.open_test("test")
    assert (len(train), len(val), len(test)) == (300, 40, 60)
    assert not set(test.sources) & set(train.sources) and not set(val.sources) & set(train.sources)
    assert not set(test.sources) & set(val.sources)
    again = build_data(small_numbers())
    assert again.train.sources == train.sources and again.train.x.equal(train.x)
    assert build_data(small_numbers(seed=1)).train.sources != train.sources
    # ids: source = tokens + <eos>, target = <bos> + tokens + <eos>, right-padded
    assert train.x.dtype == train.y.dtype == np.int64 or str(train.x.dtype) == "torch.int64"
    assert (train.y[:, 0] == BOS).all() and ((train.x == EOS).sum(1) == 1).all() and ((train.y == EOS).sum(1) == 1).all()
    tgt = tokenizer_from_json(b.spec.extras["target_tokenizer"])
    assert [tgt.decode(r[1:]) for r in train.y[:5].tolist()] == train.targets[:5]
    assert b.spec.task == "seq2seq" and b.preprocessing["kind"] == "text"


def test_numbers_words_are_the_num2words_ones():
    from num2words import num2words

    b = build_data(small_numbers(source_lang="de", target_lang="es"))
    assert b.spec.extras["source_lang"] == "de"
    assert set(b.train.targets) <= {num2words(k, lang="es") for k in range(10000)}


def test_log_sampling_covers_every_digit_count():
    nums = sample_numbers(NumbersData(low=0, high=999_999, train_size=2000, val_size=100, test_size=100))
    assert len(set(nums.tolist())) == 2200
    digits = np.bincount([len(str(k)) for k in nums])[1:]
    assert digits[0] == 10 and digits[1] == 90 and min(digits[2:]) > 300  # the small ones are all drawn


def test_unsupported_language_and_too_small_range_are_config_errors():
    with pytest.raises(UserError, match="num2words does not support language 'xx'"):
        small_numbers(target_lang="xx")
    with pytest.raises(UserError, match="holds only 100"):
        data_cfg(kind="numbers", low=0, high=99, train_size=100, val_size=10, test_size=10)


def tsv(tmp_path, text):
    p = tmp_path / "corpus.tsv"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_parallel_tsv_skips_malformed_lines_with_a_count(tmp_path, caplog):
    good = "".join(f"src {i} words\tcible {i} mots\n" for i in range(60))
    path = tsv(tmp_path, good + "no tab here\nthree\tcolumns\there\n\t\nempty target\t \n\n")
    with caplog.at_level(logging.WARNING):
        b = build_data(data_cfg(kind="parallel-tsv", path=path, val_fraction=0.2, test_fraction=0.2))
    assert "skipped 3 malformed line(s)" in caplog.text and "61" in caplog.text
    assert len(b.train) + len(b.val) + len(b.test) == 60


@pytest.mark.parametrize("text, msg", [("", "the file is empty"), ("\n\n", "the file is empty"),
                                       ("a\tb\nno tab\nstill none\n", "2 of 3 lines are not")])
def test_parallel_tsv_refuses_empty_or_mostly_malformed_files(tmp_path, text, msg):
    with pytest.raises(UserError, match=msg):
        build_data(data_cfg(kind="parallel-tsv", path=tsv(tmp_path, text)))


def test_parallel_tsv_missing_file_and_long_pairs(tmp_path, caplog):
    with pytest.raises(UserError, match="data file not found"):
        build_data(data_cfg(kind="parallel-tsv", path=str(tmp_path / "none.tsv")))
    lines = "".join(f"a{i} b\tc d\n" for i in range(40)) + "x " * 50 + "\ty\n"
    with caplog.at_level(logging.WARNING):
        b = build_data(data_cfg(kind="parallel-tsv", path=tsv(tmp_path, lines), max_len=10))
    assert "skipped 1 pair(s) longer than data.max_len = 10" in caplog.text
    assert b.train.x.shape[1] <= 10


def test_text_csv_classification(tmp_path):
    import pandas as pd

    rows = [("good great fine", "pos"), ("bad awful poor", "neg")] * 30 + [(None, "pos")]
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(path, index=False)
    b = build_data(data_cfg(kind="text-csv", path=str(path), text_column="review", label_column="sentiment"))
    assert b.spec.task == "classification" and b.spec.class_names == ["neg", "pos"]
    assert len(b.train) + len(b.val) + len(b.test) == 60 and b.train.x.dtype.is_floating_point is False
    assert b.preprocessing["overflow"] == "truncate"
    with pytest.raises(UserError, match="no text .* column 'text' .columns are: review, sentiment"):
        build_data(data_cfg(kind="text-csv", path=str(path), label_column="sentiment", text_column="text"))


def test_numbers_language_is_balanced_and_labelled():
    b = build_data(data_cfg(kind="numbers-language", size=140, languages=["en", "fr"]))
    assert b.spec.class_names == ["en", "fr"] and b.spec.extras["tokenizer"] == "char"
    y = np.concatenate([b.train.y.numpy(), b.val.y.numpy(), b.open_test("t").y.numpy()])
    assert np.bincount(y).tolist() == [70, 70]
    assert (b.train.x == PAD).any()  # padded to the longest text
