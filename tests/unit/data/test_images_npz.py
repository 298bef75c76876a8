import numpy as np
import pytest
from PIL import Image

from dlbench.config import parse_config
from dlbench.data import build_data
from dlbench.errors import UserError
from tests.conftest import tiny


def _cfg(**data):
    raw = tiny()
    raw["data"] = data
    return parse_config(raw).data


def make_folder(root, n=6, mixed=False):
    for c, colour in (("cats", 40), ("dogs", 200)):
        (root / c).mkdir(parents=True)
        for i in range(n):
            size = (12, 12) if mixed and i % 2 else (16, 16)
            mode = "RGB" if mixed and i % 3 == 0 else "L"
            Image.new(mode, size, colour if mode == "L" else (colour, 0, 0)).save(root / c / f"{i}.png")
    return root


def test_image_folder_converts_sizes_and_modes(tmp_path):
    b = build_data(_cfg(kind="image-folder", path=str(make_folder(tmp_path / "im", mixed=True)), size=[8, 8],
                        val_fraction=0.2, test_fraction=0.2))
    assert b.spec.input_shape == (1, 8, 8) and b.spec.class_names == ["cats", "dogs"]
    assert b.train.x.shape[1:] == (1, 8, 8)


def test_image_folder_lazy_when_too_big(tmp_path):
    b = build_data(_cfg(kind="image-folder", path=str(make_folder(tmp_path / "im")), size=[8, 8],
                        in_memory_limit_mb=1e-6, val_fraction=0.2, test_fraction=0.2))
    assert not b.train.in_memory
    x, y = b.train.dataset[0]
    assert tuple(x.shape) == (1, 8, 8)


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(UserError, match="no PNG/JPEG images"):
        build_data(_cfg(kind="image-folder", path=str(tmp_path / "empty")))
    root = make_folder(tmp_path / "bad")
    (root / "cats" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image .*broken.png"):
        build_data(_cfg(kind="image-folder", path=str(root)))


def test_empty_split_after_splitting(tmp_path):
    with pytest.raises(UserError, match="split is empty after splitting"):
        build_data(_cfg(kind="image-folder", path=str(make_folder(tmp_path / "im", n=2)), val_fraction=0.1,
                        test_fraction=0.1))


def test_npz_classification_and_no_pickle(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(100, 3, 5)), y=rng.integers(0, 3, 100))
    b = build_data(_cfg(kind="npz", path=str(tmp_path / "d.npz")))
    assert b.spec.task == "classification" and b.spec.input_shape == (3, 5)
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4))
    with pytest.raises(UserError, match="not a readable .npz"):
        build_data(_cfg(kind="npz", path=str(tmp_path / "o.npz")))
