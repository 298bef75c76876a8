"""Codecs: a headerless CSV keeps its first row (array inputs) or is refused with the header to add (tables);
requests decode to the model inputs the stored preprocessing gives."""
import io
import sys

import numpy as np
import pandas as pd
import pytest

from dlbench.codecs import CODECS, codec_for
from dlbench.data.preprocess import ArrayPreprocessor, TabularPreprocessor
from dlbench.errors import UserError


def array_codec():
    return codec_for(ArrayPreprocessor((3,), 0.0, 1.0).to_json())


def test_headerless_array_csv_keeps_every_row(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("1,2,3\n4,5,6\n7,8,9\n10,11,12\n13,14,15\n")
    x, _ = array_codec().read(str(f))
    assert x.shape == (5, 3) and x[0].tolist() == [1, 2, 3]


def test_array_csv_with_a_header_and_a_label_column(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b,c,label\n1,2,3,0\n4,5,6,1\n")
    x, _ = array_codec().read(str(f))
    assert x.shape == (2, 3)


def test_headerless_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("1,2,3\n4,5,6\n"))
    x, _ = array_codec().read("-")
    assert x.shape == (2, 3)


def test_headerless_table_is_refused_with_the_header_to_add(tmp_path):
    frame = pd.DataFrame({"age": [30.0, 40.0, 50.0], "city": ["a", "b", "a"]})
    codec = codec_for(TabularPreprocessor.fit(frame, ["age", "city"], "none").to_json())
    f = tmp_path / "rows.csv"
    f.write_text("35,a\n45,b\n")
    with pytest.raises(UserError, match="has no header line") as e:
        codec.read(str(f))
    assert "add the header line: age,city" in e.value.line()
    f.write_text("age,city\n35,a\n45,b\n")
    assert codec.read(str(f))[0].shape[0] == 2


def test_every_kind_is_in_the_table_and_unknown_kinds_are_refused():
    assert set(CODECS) == {"array", "tabular", "image", "text", "series", "audio"}
    with pytest.raises(UserError, match="unknown preprocessing kind 'video'"):
        codec_for({"kind": "video"})
    with pytest.raises(UserError, match="incomplete"):
        codec_for({"kind": "array"})


def test_array_request_round_trip():
    c = array_codec()
    raw = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert c.request_specs((3,))[0].shape == (-1, 3)
    np.testing.assert_allclose(c.decode({"input": raw}), raw)
    np.testing.assert_allclose(c.to_data_units(c.decode({"input": raw})), raw)
