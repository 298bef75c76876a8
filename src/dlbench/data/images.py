"""User image folders: one sub-folder per class, PNG/JPEG files, converted to one size and channel count."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, Split, check_nonempty
from dlbench.data.common import SplitOptions, check_class_folders, to_tensor_split
from dlbench.data import replay
from dlbench.data.preprocess import ImagePreprocessor, open_image, preprocessor_from_json
from dlbench.data.split import split_indices
from dlbench.errors import UserError

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
MAX_SIDE = 64
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


class ImageFolderData(SplitOptions):
    kind: Literal["image-folder"] = "image-folder"
    """A folder with one sub-folder per class holding PNG/JPEG images."""
    path: str
    """The folder: PATH/CLASS/*.png|jpg, one sub-folder per class (its name is the label); relative paths are from the
    working directory."""
    size: tuple[int, int] | None = None
    """Height and width every image is resized to; null: the images' median size, scaled down to at most
    MAX_SIDE pixels on the longer side (a CPU-sized budget keeps what small CNNs can use)."""
    channels: Literal[1, 3] | None = None
    """1 = grayscale, 3 = RGB (images in other modes are converted); null: 1 when every image is grayscale."""
    in_memory_limit_mb: float = Field(2048, gt=0)
    """Decoded data above this size is read lazily by DataLoader workers instead of held in memory."""


def scan_folder(path: str | Path) -> tuple[list[Path], list[int], list[str]]:
    root = Path(path)
    if not root.is_dir():
        raise UserError(f"image folder not found: {path}")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for i, c in enumerate(classes):
        for f in sorted((root / c).rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                files.append(f)
                labels.append(i)
    if not files:
        raise UserError(f"{path}: no PNG/JPEG images found", "put images in one sub-folder per class: PATH/<class>/*.png")
    check_class_folders(path, root, classes, labels, "no PNG/JPEG images", "add images to it")
    return files, labels, classes


class ImageFiles(torch.utils.data.Dataset):
    """Lazy (x, y) pairs decoded on access, for DataLoader workers."""

    def __init__(self, files: list[Path], labels: np.ndarray, pre: ImagePreprocessor):
        self.files, self.labels, self.pre = files, labels, pre

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.pre.load(self.files[i])), torch.tensor(int(self.labels[i]))


def _inspect(files: list[Path], size: tuple[int, int] | None, channels: int | None) -> tuple[tuple[int, int], int]:
    """Check every image opens; resolve (size, channels) left to the data (see ImageFolderData)."""
    from PIL import UnidentifiedImageError

    sizes, modes = [], set()
    for f in files:
        try:
            with open_image(f) as im:
                im.verify()
                sizes.append(im.size)
                modes.add(im.mode)
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise UserError(f"cannot read image {f}: {e}", "remove or replace the file") from None
    if size is None:
        w, h = (int(np.median([s[i] for s in sizes])) for i in (0, 1))
        scale = min(1.0, MAX_SIDE / max(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
    channels = channels or (1 if modes <= GRAY_MODES else 3)
    if len(set(sizes)) > 1 or len(modes) > 1:
        log.warning("images have %d sizes and modes %s; converting all to %dx%d", len(set(sizes)), sorted(modes),
                    *size)
    return tuple(size), channels


def build_image_folder(cfg: ImageFolderData) -> DataBundle:
    files, labels, classes = scan_folder(cfg.path)
    known = replay.classes(classes, cfg.path)  # built for a finished model (data/replay.py): its classes and size
    labels, classes = [known.index(classes[i]) for i in labels], known
    y = np.asarray(labels, dtype=np.int64)
    pre = replay.preprocessor(lambda: ImagePreprocessor(*_inspect(files, cfg.size, cfg.channels)),
                              preprocessor_from_json)
    size, channels = pre.size, pre.channels
    if replay.whole():
        tr = va = te = np.arange(len(files))
    else:
        tr, va, te = split_indices(len(files), y, (cfg.val_fraction, cfg.test_fraction), cfg.seed, True)
    check_nonempty(cfg.path, {"train": len(tr), "validation": len(va), "test": len(te)},
                   "add images or change data.val_fraction / data.test_fraction")
    spec = DataSpec("classification", (channels, *size), len(classes), classes)
    ids = [str(f) for f in files]  # the image's path (under data.path as given)
    decoded_mb = len(files) * channels * size[0] * size[1] * 4 / 2**20
    if decoded_mb <= cfg.in_memory_limit_mb:
        x = pre.transform(files)
        splits = [to_tensor_split(x, y, idx, "classification", ids) for idx in (tr, va, te)]
    else:
        splits = [Split(dataset=ImageFiles([files[i] for i in idx], y[idx], pre), ids=[ids[i] for i in idx])
                  for idx in (tr, va, te)]
    return DataBundle(splits[0], splits[1], SealedSplit(splits[2]), spec, pre.to_json())
