"""Built-in offline datasets: sklearn's bundled digits and diabetes, and MNIST-1D (generated)."""
from __future__ import annotations

import functools
from typing import Literal

import numpy as np
from pydantic import Field

from dlbench.data.bundle import DataSpec
from dlbench.data.common import SplitOptions, bundle_from_arrays, index_ids
from dlbench.data import replay
from dlbench.data.preprocess import ArrayPreprocessor, preprocessor_from_json


class DigitsData(SplitOptions):
    kind: Literal["digits"] = "digits"
    """sklearn's bundled 8x8 handwritten digits (1797 images, 10 classes), as 1x8x8 images in [0, 1]."""
    flatten: bool = False
    """Give 64-feature vectors (for an MLP) instead of 1x8x8 images."""


def build_digits(cfg: DigitsData):
    from sklearn.datasets import load_digits

    d = load_digits()
    shape = (64,) if cfg.flatten else (1, 8, 8)
    # pixel values are 0..16; replay: data built for a finished model (data/replay.py)
    pre = replay.preprocessor(lambda: ArrayPreprocessor(shape, mean=0.0, std=16.0), preprocessor_from_json)
    x = pre.transform(d.data)
    spec = DataSpec("classification", shape, 10, [str(i) for i in range(10)])
    return bundle_from_arrays("digits", x, d.target, spec, pre.to_json(), cfg, ids=index_ids("digits", len(x)))


class DiabetesData(SplitOptions):
    kind: Literal["diabetes"] = "diabetes"
    """sklearn's bundled diabetes regression set (442 patients, 10 features, disease progression)."""


def build_diabetes(cfg: DiabetesData):
    from sklearn.datasets import load_diabetes

    d = load_diabetes(scaled=False)
    x = d.data.astype(np.float64)
    # the split has to come first so standardization uses training statistics only
    from dlbench.data.split import split_indices

    tr, _, _ = split_indices(len(x), None, (cfg.val_fraction, cfg.test_fraction), cfg.seed, False)
    mean, std = x[tr].mean(0), x[tr].std(0)
    pre = replay.preprocessor(lambda: ArrayPreprocessor((x.shape[1],), mean=mean.tolist(),
                                                        std=np.where(std > 0, std, 1).tolist()), preprocessor_from_json)
    spec = DataSpec("regression", (x.shape[1],), extras={"feature_names": list(d.feature_names)})
    return bundle_from_arrays("diabetes", pre.transform(x), d.target, spec, pre.to_json(), cfg,
                              ids=index_ids("diabetes", len(x)))


class Mnist1dData(SplitOptions):
    kind: Literal["mnist1d"] = "mnist1d"
    """MNIST-1D (Greydanus 2020), generated with mnist1d.data.make_dataset: 40-sample 1-D signals, 10 classes.
    Its own train/test split is kept as the test split; validation is carved from its train part."""
    num_samples: int = Field(5000, ge=20)
    """Signals generated in all, before mnist1d's own train/test split; more samples make a harder-to-overfit, slower
    dataset."""
    train_split: float = Field(0.8, gt=0, lt=1)
    """mnist1d's own train fraction; the rest is the test split."""
    generator_seed: int = 42
    """Seed of the generator (mnist1d's default 42 reproduces the published dataset)."""
    flatten: bool = False
    """Give 40-feature vectors (MLP) instead of 1x40 signals."""


@functools.lru_cache(maxsize=4)
def _make_mnist1d(num_samples: int, train_split: float, seed: int) -> dict:
    """make_dataset takes 1-3 s per 5000 samples: cached, so the trials of a study (or any caller building the
    same data again in one process) generate it once. Callers get read-only arrays."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    state = np.random.get_state()  # make_dataset reseeds numpy's global RNG; leave it as we found it
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    out = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
    for a in out.values():
        a.flags.writeable = False
    return out


def build_mnist1d(cfg: Mnist1dData):
    d = _make_mnist1d(cfg.num_samples, cfg.train_split, cfg.generator_seed)
    shape = (40,) if cfg.flatten else (1, 40)
    # make_dataset already centres and scales the signals
    pre = replay.preprocessor(lambda: ArrayPreprocessor(shape), preprocessor_from_json)
    spec = DataSpec("classification", shape, 10, [str(i) for i in range(10)])
    return bundle_from_arrays("mnist1d", pre.transform(d["x"]), d["y"], spec, pre.to_json(), cfg,
                              test=(pre.transform(d["x_test"]), d["y_test"]))  # ids: x[i], x_test[i] of make_dataset
