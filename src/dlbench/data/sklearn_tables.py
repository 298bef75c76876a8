"""Small labelled tables bundled with scikit-learn (offline): wine, breast cancer, iris."""
from __future__ import annotations

from typing import Literal

import numpy as np

from dlbench.data.bundle import DataSpec
from dlbench.data.common import SplitOptions, bundle_from_arrays, index_ids
from dlbench.data import replay
from dlbench.data.preprocess import ArrayPreprocessor, preprocessor_from_json
from dlbench.data.split import split_indices


class SklearnTableData(SplitOptions):
    kind: Literal["sklearn-table"] = "sklearn-table"
    """A table bundled with scikit-learn: wine (178 x 13, 3 cultivars), breast_cancer (569 x 30, 2 classes)
    or iris (150 x 4, 3 species). Features are standardized with training-split statistics."""
    dataset: Literal["wine", "breast_cancer", "iris"] = "wine"
    """Which bundled table: wine, breast_cancer or iris."""


def build_sklearn_table(cfg: SklearnTableData):
    from sklearn import datasets

    d = {"wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer,
         "iris": datasets.load_iris}[cfg.dataset]()
    x, y = d.data.astype(np.float64), d.target.astype(np.int64)
    # split first, so standardization sees the training rows only (the same split bundle_from_arrays draws)
    tr, _, _ = split_indices(len(x), y, (cfg.val_fraction, cfg.test_fraction), cfg.seed, True)
    mean, std = x[tr].mean(0), x[tr].std(0)
    pre = replay.preprocessor(lambda: ArrayPreprocessor((x.shape[1],), mean=mean.tolist(),
                                                        std=np.where(std > 0, std, 1).tolist()), preprocessor_from_json)
    spec = DataSpec("classification", (x.shape[1],), len(d.target_names), [str(n) for n in d.target_names],
                    extras={"feature_names": [str(f) for f in d.feature_names]})
    return bundle_from_arrays(cfg.dataset, pre.transform(x), y, spec, pre.to_json(), cfg,
                              ids=index_ids(cfg.dataset, len(x)))
