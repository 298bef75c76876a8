"""Per-row features of each input kind and of the predictions, from request tensors as a client sends them."""
from types import SimpleNamespace

import numpy as np
import pytest

from dlbench.data.tokenize import VocabTokenizer
from dlbench.monitor.features import (AudioFeatures, OutputFeatures, input_features, output_features)


def codec(kind, **pre):
    return SimpleNamespace(kind=kind, pre=SimpleNamespace(**pre))


def test_tabular_numeric_as_is_and_categories_as_codes_with_unseen_last():
    ex = input_features(codec("tabular", numeric=[{"name": "age"}], categorical=[{"name": "city", "categories": ["x", "y"]}]))
    assert ex.names == ["age", "city"]
    rows = ex.extract({"age": np.array([30.0, 41.0, 5.0]), "city": np.array(["y", "x", "zz"], dtype=object)})
    np.testing.assert_array_equal(rows, [[30, 1], [41, 0], [5, 2]])


def test_short_arrays_get_a_feature_per_value_and_long_ones_only_statistics():
    short = input_features(codec("array", input_shape=(1, 4)))
    x = np.array([[[1.0, 2.0, 3.0, 6.0]]], dtype=np.float32)
    assert short.names == ["input[0]", "input[1]", "input[2]", "input[3]", "input.mean", "input.std", "input.min",
                           "input.max"]
    np.testing.assert_allclose(short.extract({"input": x})[0], [1, 2, 3, 6, 3, np.std([1, 2, 3, 6]), 1, 6])
    long = input_features(codec("array", input_shape=(1, 100)))
    assert long.names == ["input.mean", "input.std", "input.min", "input.max"]


def test_brighter_images_have_higher_brightness():
    ex = input_features(codec("image", channels=3))
    img = np.full((2, 4, 4, 3), 100, dtype=np.uint8)
    img[1] += 60
    img[1, ..., 0] = 255
    rows = ex.extract({"image": img})
    assert ex.names[:2] == ["image.brightness", "image.contrast"]
    assert rows[1, 0] > rows[0, 0] and rows[0, 1] == 0
    assert rows[1, 2] == pytest.approx(1.0)  # the red channel's mean


def test_text_lengths_unknown_tokens_and_non_ascii():
    tok = VocabTokenizer("word", ["one", "two", "three"])
    ex = input_features(codec("text", tokenizer=tok))
    rows = ex.extract({"text": np.array(["one two", "uno dos tres", "drei ünd"], dtype=object)})
    assert rows[0].tolist() == [7, 2, 0.0, 0.0]
    assert rows[1, 2] == 1.0  # every word unknown
    assert rows[2, 3] == pytest.approx(1 / 8)


def test_unknown_input_kind_is_not_monitored():
    assert input_features(codec("graph")) is None


def test_audio_samples_duration_loudness_peak():
    ex = AudioFeatures(codec("audio", sample_rate=100))
    wave = np.sin(np.linspace(0, 20 * np.pi, 200)).astype(np.float32)  # 2 s, 10 periods
    rows = ex.extract({"samples": [wave, 0.5 * wave[:100]]})
    assert rows[0, 0] == 2.0 and rows[1, 0] == 1.0
    assert rows[0, 1] == pytest.approx(np.sqrt(0.5), rel=0.02) and rows[1, 2] == pytest.approx(0.5, rel=0.02)
    assert 0.05 < rows[0, 3] < 0.15  # 20 sign changes in 200 samples


def test_output_features_of_each_task():
    spec = SimpleNamespace(class_names=["cat", "dog"], num_classes=2, target_dim=1)
    ex = output_features(spec, ["probabilities", "label"])
    rows = ex.extract({"probabilities": np.array([[0.9, 0.1], [0.4, 0.6]]), "label": np.array(["cat", "dog"], dtype=object)})
    np.testing.assert_allclose(rows, [[0.9, 0], [0.6, 1]])
    reg = OutputFeatures(["prediction"], target_dim=2)
    assert reg.names == ["prediction[0]", "prediction[1]"]
    np.testing.assert_array_equal(reg.extract({"prediction": np.array([[1.0, 2.0]])}), [[1, 2]])
    tr = OutputFeatures(["translation"])
    assert tr.extract({"translation": np.array(["abc", ""], dtype=object)}).tolist() == [[3], [0]]


def test_one_row_requests_get_the_same_features_as_batches():
    rng = np.random.default_rng(0)
    for shape in [(1, 40), (3, 50)]:
        ex = input_features(codec("array", input_shape=shape))
        x = rng.normal(size=(5, *shape)).astype(np.float32)
        batch = ex.extract({"input": x})
        one = np.concatenate([ex.extract({"input": x[i:i + 1]}) for i in range(5)])
        np.testing.assert_allclose(one, batch, rtol=1e-9, atol=1e-9)
