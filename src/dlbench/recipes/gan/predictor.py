"""A GAN run behind the server: a count (and labels, seed) in, samples in the data's units out.

Inputs: `count` INT64 [1], optional `seed` INT64 [1] and (conditional) `labels` BYTES [-1], one class
name per sample. Outputs: `samples` FP32 [-1, *sample_shape], `files` BYTES [-1] where the data kind has a
file format (audio: a WAV file per sample; base64 text in JSON) and (conditional) `labels`. Not batchable:
one request is one call of the generator.
"""
from __future__ import annotations

import numpy as np

from dlbench.codecs.base import TensorSpec, text_of
from dlbench.errors import UserError


class GeneratorPredictor:
    platform = "pytorch"
    batchable = False
    MAX_COUNT = 4096

    def __init__(self, loaded, name: str, version: str):
        self.run, self.gen, self.name, self.version = loaded, loaded.task, name, version
        self.shape = tuple(loaded.spec.input_shape)

    def inputs(self) -> list[TensorSpec]:
        specs = [TensorSpec("count", "INT64", (1,)), TensorSpec("seed", "INT64", (1,), optional=True)]
        if self.gen.conditional:
            specs.append(TensorSpec("labels", "BYTES", (-1,), optional=True))
        return specs

    def outputs(self) -> list[TensorSpec]:
        out = [TensorSpec("samples", "FP32", (-1, *self.shape))]
        if self._files(np.zeros((1, *self.shape), np.float32)) is not None:  # audio: WAV files too
            out.append(TensorSpec("files", "BYTES", (-1,), binary=True))
        return out + ([TensorSpec("labels", "BYTES", (-1,))] if self.gen.conditional else [])

    def _files(self, x: np.ndarray) -> list[bytes] | None:
        encoded = self.run.codec.encode_files(x)
        return None if encoded is None else encoded[1]

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]:
        n = int(inputs["count"][0])
        if not 1 <= n <= self.MAX_COUNT:
            raise UserError(f"count must be from 1 to {self.MAX_COUNT} (got {n})")
        seed = int(inputs["seed"][0]) if "seed" in inputs else 0
        labels = None
        if "labels" in inputs:
            labels = [self.gen.label_index(text_of(v)) for v in inputs["labels"]]
            if len(labels) != n:
                raise UserError(f"labels has {len(labels)} entries for count {n}; give one label per sample")
        x, y = self.gen.sample(n, labels, seed)
        out = {"samples": self.run.codec.to_data_units(x.numpy()).astype(np.float32)}
        files = self._files(x.numpy())
        if files is not None:
            out["files"] = np.empty(len(files), dtype=object)
            out["files"][:] = files
        if y is not None:
            out["labels"] = np.array([self.gen.class_names[i] for i in y.tolist()], dtype=object)
        return out
