"""Raw requests recovered from a split: preprocessing them again gives the model the same inputs."""
import numpy as np
import pandas as pd
import pytest
import torch

from dlbench.codecs import codec_for
from dlbench.data.bundle import Split
from dlbench.data.preprocess import ArrayPreprocessor, ImagePreprocessor, TabularPreprocessor


class Pred:
    name = "m"

    def __init__(self, *specs):
        self.specs = specs

    def inputs(self):
        return list(self.specs)


def test_array_round_trip():
    rng = np.random.default_rng(0)
    raw = rng.normal(5, 3, (20, 10))
    pre = ArrayPreprocessor((10,), raw.mean(0).tolist(), raw.std(0).tolist())
    x = pre.transform(raw)
    got = codec_for(pre.to_json()).requests(Split(torch.from_numpy(x), torch.zeros(20)))
    assert got["input"].dtype == np.float32 and got["input"].shape == (20, 10)
    np.testing.assert_allclose(pre.transform(got["input"]), x, rtol=1e-5, atol=1e-5)


def test_image_round_trip_is_exact():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (4, 6, 5), dtype=np.uint8)
    x = (px.astype(np.float32) / 255.0)[:, None]  # what ImagePreprocessor.load gives, [N, 1, H, W]
    pre = ImagePreprocessor((6, 5), 1)
    got = codec_for(pre.to_json()).requests(Split(torch.from_numpy(x), torch.zeros(4)))
    assert got["image"].dtype == np.uint8 and np.array_equal(got["image"], px)


def test_tabular_round_trip_with_an_unseen_category():
    frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "city": ["a", "b", "a", "c"]})
    pre = TabularPreprocessor.fit(frame.iloc[:3], ["age", "city"], "none")  # "c" unseen in training
    x = pre.transform(frame)
    got = codec_for(pre.to_json()).requests(Split(torch.from_numpy(x), torch.zeros(4)))
    assert got["age"].dtype == np.float64 and list(got["city"][:3]) == ["a", "b", "a"]
    again = pre.transform(pd.DataFrame({k: v for k, v in got.items()}))
    np.testing.assert_allclose(again, x, atol=1e-6)


def test_unknown_kind():
    from dlbench.errors import UserError

    with pytest.raises(UserError, match="unknown preprocessing kind 'hologram'"):
        codec_for({"kind": "hologram"}).requests(Split(torch.zeros(2, 3), torch.zeros(2)))


def test_direct_path_answers_as_the_predictor(trained_run):
    """The GPU fast path (pinned staging buffer, one forward pass) gives predict()'s outputs; forced on CPU."""
    from dlbench.bench.infer.backends import InProcess
    from dlbench.bench.infer.samples import load_samples
    from dlbench.serve.runs import load_predictor

    p = load_predictor(trained_run, device="cpu")
    samples = load_samples(trained_run, p)
    backend = InProcess(p, samples)
    idx = np.arange(min(40, samples.n))
    direct = backend._infer_direct(samples.request(idx))
    plain = p.predict(samples.request(idx), {})
    np.testing.assert_allclose(direct["probabilities"], plain["probabilities"], rtol=1e-6, atol=1e-7)
    assert list(direct["label"]) == list(plain["label"])
