"""Tokenizers: exact round trips, JSON round trips, unknown tokens, length limits, empty vocabularies."""
import json
import logging

import numpy as np
import pytest

from dlbench.data.tokenize import (EOS, PAD, UNK, TextPreprocessor, TokenizerOptions, fit_tokenizer,
                                   read_text_lines, tokenizer_from_json)
from dlbench.errors import UserError

TEXTS = ["three hundred and forty-two", "quatre-vingt-dix-neuf", "deux cents", "zéro", "ninety-nine thousand"] * 20


@pytest.mark.parametrize("opts", [TokenizerOptions(type="char"), TokenizerOptions(type="word"),
                                  TokenizerOptions(type="sentencepiece", vocab_size=60, model_type="bpe"),
                                  TokenizerOptions(type="sentencepiece", vocab_size=60, model_type="unigram")],
                         ids=["char", "word", "spm-bpe", "spm-unigram"])
def test_round_trip_and_json_round_trip(opts):
    tok = fit_tokenizer(TEXTS, opts, "t")
    for t in set(TEXTS):
        ids = tok.encode(t)
        assert UNK not in ids and tok.decode(ids) == t
        assert tok.decode(ids + [EOS, 7, 8]) == t, "decoding stops at <eos>"
    stored = json.loads(json.dumps(tok.to_json()))  # plain JSON, no pickle
    again = tokenizer_from_json(stored)
    assert again.vocab_size == tok.vocab_size
    assert all(again.encode(t) == tok.encode(t) for t in TEXTS)


def test_sentencepiece_training_is_deterministic():
    opts = TokenizerOptions(type="sentencepiece", vocab_size=50)
    assert fit_tokenizer(TEXTS, opts, "t").to_json() == fit_tokenizer(TEXTS, opts, "t").to_json()


def test_char_vocab_is_built_from_the_given_texts_only_and_sorted_by_frequency():
    tok = fit_tokenizer(["aab", "a"], TokenizerOptions(type="char"), "t")
    assert tok.itos[:6] == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"]
    assert tok.encode("abc") == [4, 5, UNK]


def test_min_freq_and_max_vocab():
    tok = fit_tokenizer(["a a a b b c"], TokenizerOptions(type="word", min_freq=2), "t")
    assert tok.itos[4:] == ["a", "b"]
    tok = fit_tokenizer(["a a a b b c"], TokenizerOptions(type="word", max_vocab=1), "t")
    assert tok.itos[4:] == ["a"]


@pytest.mark.parametrize("opts", [TokenizerOptions(type="word", min_freq=5), TokenizerOptions(type="sentencepiece")])
def test_an_empty_vocabulary_is_refused(opts):
    with pytest.raises(UserError, match="vocabulary would be empty"):
        fit_tokenizer(["a b", "   "] if opts.type == "word" else ["", "  "], opts, "my data")


def test_unknown_tokens_are_mapped_to_unk_counted_and_warned(caplog):
    tok = fit_tokenizer(["abc"], TokenizerOptions(type="char"), "t")
    pre = TextPreprocessor(tok.to_json(), max_len=10, eos=True, overflow="error")
    with caplog.at_level(logging.WARNING):
        x = pre.transform(["abz", "ßa"])
    assert x.dtype == np.int64 and x.shape == (2, 4)
    assert x[0].tolist() == [4, 5, UNK, EOS] and x[1].tolist() == [UNK, 4, EOS, PAD]
    assert "2 unknown token(s) in 2 input(s)" in caplog.text and "'ß'" in caplog.text


def test_too_long_inputs_error_or_truncate(caplog):
    tok = fit_tokenizer(["a b c d e f"], TokenizerOptions(type="word"), "t")
    strict = TextPreprocessor(tok.to_json(), max_len=4, eos=True, overflow="error")
    with pytest.raises(UserError, match="input 2 has 7 tokens; the model accepts at most 4"):
        strict.transform(["a", "a b c d e f"])
    loose = TextPreprocessor(tok.to_json(), max_len=4, eos=True, overflow="truncate")
    with caplog.at_level(logging.WARNING):
        x = loose.transform(["a b c d e f"])
    assert x.shape == (1, 4) and x[0, -1] == EOS and "truncated" in caplog.text
    assert TextPreprocessor.from_json(json.loads(json.dumps(loose.to_json()))).transform(["a b"]).tolist() == \
        loose.transform(["a b"]).tolist()


def test_read_text_lines(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("one\r\ntwo\n\nthree\n", encoding="utf-8")
    assert read_text_lines(str(p)) == ["one", "two", "", "three"]
    p.write_text("")
    with pytest.raises(UserError, match="no input lines"):
        read_text_lines(str(p))
    p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UserError, match="not UTF-8"):
        read_text_lines(str(p))
