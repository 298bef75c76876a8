import numpy as np
import pytest
from PIL import Image

from dlbench.schema import parse_config
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
                        channels=1, val_fraction=0.2, test_fraction=0.2))
    assert b.spec.input_shape == (1, 8, 8) and b.spec.class_names == ["cats", "dogs"]
    assert b.train.x.shape[1:] == (1, 8, 8)


def test_image_folder_size_and_channels_come_from_the_images(tmp_path):
    gray = build_data(_cfg(kind="image-folder", path=str(make_folder(tmp_path / "g")), val_fraction=0.2,
                           test_fraction=0.2))
    assert gray.spec.input_shape == (1, 16, 16)  # their own size, not a fixed 32x32
    mixed = build_data(_cfg(kind="image-folder", path=str(make_folder(tmp_path / "m", mixed=True)),
                            val_fraction=0.2, test_fraction=0.2))
    assert mixed.spec.input_shape[0] == 3  # some images are colour
    root = tmp_path / "big"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (200, 100), 40 * i).save(root / c / f"{i}.png")
    big = build_data(_cfg(kind="image-folder", path=str(root), val_fraction=0.2, test_fraction=0.2))
    assert big.spec.input_shape == (1, 32, 64)  # scaled down to 64 px on the longer side, aspect kept


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


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_decompression_bomb_is_named(tmp_path):
    root = make_folder(tmp_path / "im")
    (root / "dogs" / "bomb.png").write_bytes(_png_header(60000, 60000))
    with pytest.raises(UserError, match="image .*bomb.png is larger than 100,000,000 pixels"):
        build_data(_cfg(kind="image-folder", path=str(root)))


@pytest.mark.parametrize("side", [12, 16])  # PIL warns above the limit and raises above twice it
def test_pixel_limit_covers_warning_and_error(tmp_path, monkeypatch, side):
    from dlbench.data import preprocess

    monkeypatch.setattr(preprocess, "MAX_IMAGE_PIXELS", 100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after: the reader sets it
    Image.new("L", (side, side)).save(tmp_path / "big.png")
    with pytest.raises(UserError, match="big.png is larger than 100 pixels"):
        preprocess.ImagePreprocessor((8, 8), 1).load(tmp_path / "big.png")


def test_empty_class_folder_is_named(tmp_path):
    root = make_folder(tmp_path / "im")
    (root / "birds").mkdir()
    with pytest.raises(UserError, match=r"class folder .*birds has no PNG/JPEG images"):
        build_data(_cfg(kind="image-folder", path=str(root)))
