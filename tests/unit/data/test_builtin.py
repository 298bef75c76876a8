import numpy as np

from dlbench.schema import parse_config
from dlbench.data import build_data
from tests.conftest import tiny


def _data(**kw):
    raw = tiny()
    raw["data"] = kw
    return parse_config(raw).data


def test_digits_images_and_flat():
    b = build_data(_data(kind="digits"))
    assert b.spec.input_shape == (1, 8, 8) and b.spec.num_classes == 10
    assert len(b.train) + len(b.val) + len(b.test) == 1797
    assert float(b.train.x.max()) <= 1.0 and float(b.train.x.min()) >= 0.0
    assert build_data(_data(kind="digits", flatten=True)).spec.input_shape == (64,)


def test_mnist1d_keeps_its_own_test_split_and_leaves_numpy_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    b = build_data(_data(kind="mnist1d", num_samples=1000, train_split=0.8))
    assert (np.random.get_state()[1] == before).all()
    assert len(b.test) == 200 and len(b.train) + len(b.val) == 800
    assert b.spec.input_shape == (1, 40)


def test_mnist1d_generation_is_reproducible():
    from dlbench.data.builtin import _make_mnist1d

    _make_mnist1d.cache_clear()  # generate twice for real, not from the cache
    a = build_data(_data(kind="mnist1d", num_samples=200))
    _make_mnist1d.cache_clear()
    b = build_data(_data(kind="mnist1d", num_samples=200))
    assert (a.train.x == b.train.x).all()


def test_mnist1d_is_generated_once_per_process_and_callers_cannot_corrupt_the_cache():
    from dlbench.data.builtin import _make_mnist1d

    _make_mnist1d.cache_clear()
    a = build_data(_data(kind="mnist1d", num_samples=300))
    a.train.x.add_(1.0)  # a caller scribbling on its tensors (augmentation in place) ...
    b = build_data(_data(kind="mnist1d", num_samples=300))
    assert _make_mnist1d.cache_info().hits == 1 and _make_mnist1d.cache_info().misses == 1
    _make_mnist1d.cache_clear()
    c = build_data(_data(kind="mnist1d", num_samples=300))
    assert (b.train.x == c.train.x).all()  # ... does not reach the next build
    assert len(build_data(_data(kind="mnist1d", num_samples=400)).train) != len(b.train)  # keyed on the settings


def test_diabetes_standardized_with_train_statistics():
    b = build_data(_data(kind="diabetes"))
    assert b.spec.task == "regression" and b.spec.input_shape == (10,)
    m = b.train.x.mean(0)
    assert float(m.abs().max()) < 1e-4  # train features centred; val/test only approximately
    assert "target_mean" in b.spec.extras


def test_test_split_is_sealed_until_opened():
    b = build_data(_data(kind="digits"))
    assert not hasattr(b.test, "x")
    t = b.open_test("unit test")
    assert len(t) == len(b.test) and b.test_opened == ["unit test"]
