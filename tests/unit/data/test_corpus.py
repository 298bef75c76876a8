"""The corpus data kind: sources, block split, tokenizers, windows and bad input."""
import numpy as np
import pytest

from dlbench.data.corpus import (CorpusData, assign_blocks, block_bounds, build_corpus, eval_rows,
                                 fit_corpus_tokenizer, train_rows)
from dlbench.data.tokenize import PAD, TokenizerOptions
from dlbench.errors import UserError

LINES = [f"line {i}: the {w} of {i % 7} is {i * 3}.\n" for i, w in zip(range(400), ["cat", "dog", "owl", "ant"] * 100)]


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("".join(LINES), encoding="utf-8")
    return p


def test_blocks_cover_the_text_and_cut_at_line_breaks():
    text = "".join(LINES)
    bounds = block_bounds(text, 20)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(text[a - 1] == "\n" for a, _ in bounds[1:])


def test_block_split_never_overlaps():
    parts = assign_blocks(20, 0.1, 0.1, seed=3)
    sets = [set(v) for v in parts.values()]
    assert sum(map(len, sets)) == 20 and set.union(*sets) == set(range(20))
    assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1:])
    assert parts == assign_blocks(20, 0.1, 0.1, seed=3)
    assert parts != assign_blocks(20, 0.1, 0.1, seed=4)


def test_held_out_text_is_never_in_training_windows(corpus):
    from dlbench.data.tokenize import tokenizer_from_json

    b = build_corpus(CorpusData(path=str(corpus), context=16, blocks=10, val_fraction=0.1, test_fraction=0.1))
    tok = tokenizer_from_json(b.spec.extras["tokenizer"])
    train = "|".join(tok.decode(r) for r in b.train.x.tolist())
    held = {s: "".join(tok.decode(r[1:]) for r in split.x.tolist()) for s, split in
            (("val", b.val), ("test", b.open_test("test")))}
    numbers = {s: {ln.split(":")[0] for ln in t.split("\n") if ln.startswith("line ")} for s, t in held.items()}
    assert len(numbers["val"]) >= 30 and len(numbers["test"]) >= 30  # each line is unique: "line K"
    assert not any(f"{n}:" in train for s in numbers for n in numbers[s])
    assert not numbers["val"] & numbers["test"]
    assert b.train.x.shape[1] == 33 and b.val.x.shape[1] == 17
    assert b.spec.task == "language_model" and b.spec.extras["context"] == 16


@pytest.mark.parametrize("kind", ["char", "sentencepiece"])
def test_tokenizer_round_trip_keeps_spaces_and_line_breaks(kind):
    text = "".join(LINES) + "  indented   code\n\n\ttab\n"
    tok = fit_corpus_tokenizer(text, TokenizerOptions(type=kind, vocab_size=120))
    sample = "line 3: the dog of  3 is 9.\n\n  code\n"
    assert tok.decode(tok.encode(sample)) == sample


def test_windows_score_every_token_once():
    ids = np.arange(4, 4 + 50)
    rows = eval_rows(ids, 8)
    targets = np.concatenate([r[1:] for r in rows])
    assert targets[targets != PAD].tolist() == ids[1:].tolist()
    tr = train_rows(ids, 8)
    assert tr.shape[1] == 17 and tr[1, 0] == ids[8]


def test_sources_folder_and_csv(tmp_path):
    (tmp_path / "d").mkdir()
    for i in range(3):
        (tmp_path / "d" / f"{i}.txt").write_text("".join(LINES[i * 100:(i + 1) * 100]), encoding="utf-8")
    b = build_corpus(CorpusData(path=str(tmp_path / "d"), context=16))
    assert b.spec.extras["characters"]["train"] > 5000
    import pandas as pd

    pd.DataFrame({"body": LINES}).to_csv(tmp_path / "t.csv", index=False)
    b = build_corpus(CorpusData(path=str(tmp_path / "t.csv"), text_column="body", context=16))
    assert len(b.val) > 0
    with pytest.raises(UserError, match="no text"):
        build_corpus(CorpusData(path=str(tmp_path / "t.csv"), text_column="text", context=16))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"short text\n", "too short"),
    ("caf\u00e9 ".encode("latin-1") * 100, "not UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00" * 50, "binary"),
])
def test_bad_corpora_are_one_line(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(UserError, match=message) as e:
        build_corpus(CorpusData(path=str(p), context=64))
    assert "\n" not in e.value.line()


def test_config_needs_one_source_and_no_word_tokenizer():
    with pytest.raises(ValueError, match="exactly one"):
        CorpusData()
    with pytest.raises(ValueError, match="word"):
        CorpusData(builtin="pydoc-topics", tokenizer={"type": "word"})
