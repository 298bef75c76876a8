"""Data built for a finished model (data/replay.py): its classes, its preprocessing, every row of a new file;
a data kind whose builder cannot is refused in one line rather than silently refitted."""

import numpy as np
import pytest
from PIL import Image

from dlbench.data.arrays import NpzData
from dlbench.data.images import ImageFolderData
from dlbench.data.registry import build_data
from dlbench.data.replay import replaying
from dlbench.data.text import ParallelTsvData
from dlbench.errors import UserError


def test_npz_replays_classes_preprocessing_and_keeps_every_row(tmp_path):
    r = np.random.default_rng(0)
    np.savez(tmp_path / "old.npz", x=r.normal(5, 2, (200, 3)), y=r.integers(0, 3, 200) * 10)  # classes 0, 10, 20
    old = build_data(NpzData(path=str(tmp_path / "old.npz")))
    np.savez(tmp_path / "new.npz", x=np.full((7, 3), 5.0), y=np.array([20, 20, 10, 20, 10, 20, 20]))  # no class 0
    with replaying(old.spec.to_json(), old.preprocessing, whole=True):
        new = build_data(NpzData(path=str(tmp_path / "new.npz")))
    assert new.spec.class_names == ["0", "10", "20"] and new.val.y.tolist() == [2, 2, 1, 2, 1, 2, 2]
    assert len(new.val) == len(new.train) == 7 and new.preprocessing == old.preprocessing
    mean = np.array(old.preprocessing["mean"])
    np.testing.assert_allclose(new.val.x.numpy()[0], (5.0 - mean) / np.array(old.preprocessing["std"]), rtol=1e-5)
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 3)), y=np.array([0, 30, 10]))
    with pytest.raises(UserError, match="label\\(s\\) '30' are not among the model's classes"):
        with replaying(old.spec.to_json(), old.preprocessing, whole=True):
            build_data(NpzData(path=str(tmp_path / "bad.npz")))


def test_image_folder_keeps_the_trained_size(tmp_path):
    for root, size in (("a", 12), ("b", 30)):
        for c in ("cat", "dog"):
            (tmp_path / root / c).mkdir(parents=True)
            for i in range(6):
                Image.fromarray(np.full((size, size), 40 * i, np.uint8)).save(tmp_path / root / c / f"{i}.png")
    old = build_data(ImageFolderData(path=str(tmp_path / "a")))
    with replaying(old.spec.to_json(), old.preprocessing, whole=True):
        new = build_data(ImageFolderData(path=str(tmp_path / "b")))
    assert new.val.x.shape == (12, *old.spec.input_shape) and new.spec.class_names == ["cat", "dog"]


def test_a_kind_that_cannot_replay_is_refused(tmp_path):
    (tmp_path / "pairs.tsv").write_text("".join(f"a{i} b\tb a{i}\n" for i in range(40)))
    cfg = ParallelTsvData(path=str(tmp_path / "pairs.tsv"))
    built = build_data(cfg)
    with pytest.raises(UserError, match="parallel-tsv data cannot yet be built with a finished model's preprocessing"):
        with replaying(built.spec.to_json(), built.preprocessing, whole=True, kind=cfg.kind):
            build_data(cfg)
