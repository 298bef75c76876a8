"""The server predictor of the supervised families: raw request tensors in (described and decoded by the
run's codec, `dlbench.codecs`), predictions out.

Classifiers answer `probabilities` FP32 [-1, classes] and `label` BYTES [-1]; regressors `prediction`;
translators `translation` BYTES [-1] (request parameter `beam` picks the beam size).
"""
from __future__ import annotations

import numpy as np

from dlbench.codecs.base import TensorSpec
from dlbench.errors import UserError


class RunPredictor:
    platform = "pytorch"
    batchable = True

    def __init__(self, run, name: str, version: str):
        self.run, self.name, self.version = run, name, version

    def inputs(self) -> list[TensorSpec]:
        return self.run.codec.request_specs(tuple(self.run.spec.input_shape))

    def outputs(self) -> list[TensorSpec]:
        spec = self.run.spec
        if spec.task == "seq2seq":
            return [TensorSpec("translation", "BYTES", (-1,))]
        if spec.task == "classification":
            return [TensorSpec("probabilities", "FP32", (-1, spec.num_classes)), TensorSpec("label", "BYTES", (-1,))]
        return [TensorSpec("prediction", "FP32", (-1,) if spec.target_dim == 1 else (-1, spec.target_dim))]

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]:
        beam = parameters.get("beam")
        if beam is not None and (not isinstance(beam, int) or isinstance(beam, bool) or not 1 <= beam <= 64):
            raise UserError("parameter 'beam' must be an integer from 1 to 64")
        codec = self.run.codec
        x = np.ascontiguousarray(codec.decode(inputs), dtype=codec.input_dtype)
        preds = self.run.recipe.predict(self.run, x, beam=beam if "translation" in self._out_names() else None)
        if "translation" in preds:
            return {"translation": np.array(preds["translation"], dtype=object)}
        if "label" in preds:
            names = self.run.spec.class_names or [str(i) for i in range(self.run.spec.num_classes)]
            labels = np.array([names[i] for i in preds["label"]], dtype=object)
            return {"probabilities": preds["probabilities"].astype(np.float32), "label": labels}
        return {"prediction": preds["prediction"].astype(np.float32)}

    def _out_names(self) -> list[str]:
        return [s.name for s in self.outputs()]
