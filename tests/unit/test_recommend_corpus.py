"""recommend --goal generate on text: a .txt file, a folder of text files or a CSV text column is a corpus."""
import pandas as pd
import pytest

from dlbench.errors import UserError
from dlbench.recommend import recommend
from dlbench.recommend.corpus import corpus_profile

TEXT = "".join(f"Line {i}: the quick brown fox jumps over {i % 13} lazy dogs.\n" for i in range(200))


def test_corpus_sources(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    pr = corpus_profile(tmp_path / "a.txt")
    assert pr.kind == "corpus" and pr.task == "language_model" and pr.n == len(TEXT) // 128 and pr.data == {"kind": "corpus"}
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text(TEXT, encoding="utf-8")
    assert corpus_profile(tmp_path / "docs").data == {"kind": "corpus", "pattern": "*.md"}
    pd.DataFrame({"id": range(50), "body": [TEXT[i * 100:(i + 1) * 100] for i in range(50)]}).to_csv(
        tmp_path / "t.csv", index=False)
    assert corpus_profile(tmp_path / "t.csv").data == {"kind": "corpus", "text_column": "body"}
    assert corpus_profile(tmp_path / "t.csv", target="id") is None  # a target: not text to continue
    (tmp_path / "short.txt").write_text("too short", encoding="utf-8")
    with pytest.raises(UserError, match="only 9 characters"):
        corpus_profile(tmp_path / "short.txt")
    (tmp_path / "latin.txt").write_bytes("caf\u00e9\n".encode("latin-1") * 1000)
    with pytest.raises(UserError, match="not UTF-8"):
        corpus_profile(tmp_path / "latin.txt")


def test_recommend_writes_a_language_model_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text(TEXT, encoding="utf-8")
    rec = recommend("notes.txt", goal="generate", write=False)
    assert rec.family == "transformer" and not rec.note
    assert rec.config["data"] == {"kind": "corpus", "path": "notes.txt", "context": 64, "tokenizer": {"type": "char"}}
    assert rec.config["model"]["layers"] == 2 and rec.config["optim"]["lr"] == 8e-3  # the measured small-corpus setting
    assert rec.config["model"]["name"] == "transformer" and rec.config["optim"]["grad_clip"] == 1.0
