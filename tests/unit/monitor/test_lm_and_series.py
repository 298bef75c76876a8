"""The rows of the runs whose splits hold no raw requests: a language model's prompts (cut from its training
windows) and a forecaster's history steps (from a history file, in the file's units)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd

from dlbench.data.series_frame import Series
from dlbench.data.tokenize import VocabTokenizer
from dlbench.monitor.features import input_features
from dlbench.monitor.reference import lm_prompts
from dlbench.monitor.series import history_rows


def test_lm_prompts_are_cut_from_training_windows_one_to_context_tokens_long():
    tok = VocabTokenizer("char", list("abcdefgh "))
    text = "abc defgh " * 40
    ids = np.array(tok.encode(text))
    context = 8
    train = SimpleNamespace(x=np.stack([ids[i * context:i * context + 2 * context + 1] for i in range(20)]))
    prompts = lm_prompts(train, context, tok, 500, np.random.default_rng(0))
    texts = [p.decode() for p in prompts]
    lengths = np.array([len(t) for t in texts])
    assert len(texts) == 500 and lengths.min() == 1 and lengths.max() == context  # several prompts per window
    assert np.mean(lengths <= 3) > 0.3  # log-uniform: short prompts are common
    assert all(t in text for t in texts)
    ex = input_features(SimpleNamespace(kind="text", pre=SimpleNamespace(tokenizer=tok)))
    rows = ex.extract({"text_input": np.array([b"abc", "héé".encode()], dtype=object)})  # an LM's request input
    np.testing.assert_allclose(rows, [[3, 3, 0, 0], [3, 3, 2 / 3, 2 / 3]])


def test_history_rows_are_steps_with_a_target_in_file_units_and_covariate_gaps_filled():
    enc = SimpleNamespace(targets=["sales"], covariates=["temp", "shop"],
                          known=[{"name": "temp", "type": "numeric", "mean": 20.0, "std": 1.0}],
                          observed=[{"name": "shop", "type": "categorical", "categories": ["big", "small"]}])
    frame = pd.DataFrame({"temp": [np.nan, 21.0, np.nan, 23.0, 24.0], "shop": ["big", None, "small", "x", "big"]})
    y = np.array([[1.0], [2.0], [np.nan], [4.0], [np.nan]])  # a gap, then a future row (known covariate only)
    rows, what = history_rows([Series("a", np.arange(5), y, frame)], enc)
    np.testing.assert_array_equal(rows["sales"], [1, 2, 4])
    np.testing.assert_array_equal(rows["temp"], [20, 21, 23])  # the training mean, then the last value
    assert list(rows["shop"]) == ["big", "big", "x"] and what.startswith("1 series, 3 steps")
    ex = input_features(SimpleNamespace(kind="series", pre=enc))
    assert ex.names == ["sales", "temp", "shop"]
    np.testing.assert_array_equal(ex.extract(rows)[:, 2], [0, 0, 2])  # "x": an unseen category
    rows, _ = history_rows([Series("a", np.arange(5), y, frame)], enc, ends=[2])  # the training period's cut
    np.testing.assert_array_equal(rows["sales"], [1, 2])
