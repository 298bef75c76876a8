"""Image files (PNG/JPEG): uint8 pixels in requests, [0, 1] floats at the trained size inside."""
from __future__ import annotations

import numpy as np

from dlbench.codecs.base import Codec, TensorSpec, check_exists, split_arrays
from dlbench.data.preprocess import ImagePreprocessor
from dlbench.errors import UserError


class ImageCodec(Codec):
    kind = "image"

    @classmethod
    def from_json(cls, d: dict) -> "ImageCodec":
        return cls(ImagePreprocessor(tuple(d["size"]), d["channels"]))

    def read(self, path):
        from dlbench.data.images import IMAGE_SUFFIXES

        p = check_exists(path)
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
        if not files:
            raise UserError(f"{path}: no PNG/JPEG images to predict")
        return self.pre.transform(files), [str(f) for f in files]

    def request_specs(self, input_shape):
        h, w = self.pre.size
        return [TensorSpec("image", "UINT8", (-1, h, w) if self.pre.channels == 1 else (-1, h, w, 3))]

    def decode(self, inputs):
        x = inputs["image"].astype(np.float32) / 255.0
        return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)

    def requests(self, split):
        x, _ = split_arrays(split)
        px = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)   # the inverse of uint8 / 255
        return {"image": px[:, 0] if px.shape[1] == 1 else px.transpose(0, 2, 3, 1)}
