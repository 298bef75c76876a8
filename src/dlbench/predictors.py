"""Run directories as server predictors (`dlbench.serve.predictor.Predictor`).

Requests carry raw inputs; the preprocessing stored in model.json is applied exactly as in
training (`LoadedRun.preprocessor`). One predictor class per kind of input:

- array runs (digits, MNIST-1D, npz): input `input` FP32 [-1, *input_shape] of raw values;
- tabular runs (csv): one input per column, FP64 for numeric and BYTES for categorical columns, each [-1];
- image runs: input `image` UINT8 [-1, H, W] (grayscale) or [-1, H, W, 3] (RGB) at the trained size;
- text runs: input `text` BYTES [-1] (UTF-8 strings), tokenized with the run's own tokenizer.
Classifiers answer `probabilities` FP32 [-1, classes] and `label` BYTES [-1]; regressors `prediction`;
translators `translation` BYTES [-1] (request parameter `beam` picks the beam size);
generators (not batchable) take `count` INT64 [1], optional `labels` BYTES [-1] (class names, one per sample)
and `seed` INT64 [1], and answer `samples` FP32 [-1, *sample_shape] in the data's units (and `labels`).
Other families (translation, generators) register a loader in `FAMILY_LOADERS`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.inference import LoadedRun, load_run
from dlbench.serve.predictor import TensorSpec

FAMILY_LOADERS: dict = {}
"""task name -> callable(LoadedRun, name, version) -> Predictor, for tasks beyond classification/regression."""


class RunPredictor:
    platform = "pytorch"
    batchable = True

    def __init__(self, run: LoadedRun, name: str, version: str):
        self.run, self.name, self.version = run, name, version
        self.kind = run.preprocessor.kind

    def inputs(self) -> list[TensorSpec]:
        pre = self.run.preprocessor
        if self.kind == "tabular":
            return ([TensorSpec(n["name"], "FP64", (-1,)) for n in pre.numeric]
                    + [TensorSpec(c["name"], "BYTES", (-1,)) for c in pre.categorical])
        if self.kind == "image":
            h, w = pre.size
            return [TensorSpec("image", "UINT8", (-1, h, w) if pre.channels == 1 else (-1, h, w, 3))]
        if self.kind == "text":
            return [TensorSpec("text", "BYTES", (-1,))]
        return [TensorSpec("input", "FP32", (-1, *self.run.spec.input_shape))]

    def outputs(self) -> list[TensorSpec]:
        spec = self.run.spec
        if spec.task == "classification":
            return [TensorSpec("probabilities", "FP32", (-1, spec.num_classes)), TensorSpec("label", "BYTES", (-1,))]
        return [TensorSpec("prediction", "FP32", (-1,) if spec.target_dim == 1 else (-1, spec.target_dim))]

    def model_inputs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        pre = self.run.preprocessor
        if self.kind == "tabular":
            import pandas as pd

            frame = pd.DataFrame({k: (v.astype(str) if v.dtype == object else v) for k, v in inputs.items()})
            return pre.transform(frame)
        if self.kind == "image":
            x = inputs["image"].astype(np.float32) / 255.0
            return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        if self.kind == "text":
            return pre.transform([_text(v) for v in inputs["text"]])
        return pre.transform(inputs["input"])

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]:
        x = self.model_inputs(inputs)
        if self.kind == "text":  # token ids stay integers
            import torch

            with torch.no_grad():
                out = self.run.model(torch.from_numpy(x).to(self.run.device))
            preds = self.run.task.predictions(out)
        else:
            preds = self.run.predict_arrays(np.ascontiguousarray(x, dtype=np.float32))
        if "label" in preds:
            names = self.run.spec.class_names or [str(i) for i in range(self.run.spec.num_classes)]
            labels = np.array([names[i] for i in preds["label"]], dtype=object)
            return {"probabilities": preds["probabilities"].astype(np.float32), "label": labels}
        return {"prediction": preds["prediction"].astype(np.float32)}


def _text(v) -> str:
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("text inputs must be UTF-8") from None
    return str(v)


class TranslationPredictor(RunPredictor):
    """Source sentences in, translations out (greedy, or beam search with parameters.beam)."""

    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec("translation", "BYTES", (-1,))]

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]:
        beam = parameters.get("beam")
        if beam is not None and (not isinstance(beam, int) or isinstance(beam, bool) or not 1 <= beam <= 64):
            raise UserError("parameter 'beam' must be an integer from 1 to 64")
        ids = self.model_inputs(inputs)
        out = self.run.task.translate(self.run.model, ids, self.run.device, beam=beam)
        return {"translation": np.array(out, dtype=object)}


FAMILY_LOADERS["seq2seq"] = TranslationPredictor


class GeneratorPredictor:
    """A GAN run: a count (and labels, seed) in, samples out. One request at a time: no batching."""
    platform = "pytorch"
    batchable = False
    MAX_COUNT = 4096

    def __init__(self, run_dir, name: str, version: str, device: str | None):
        from dlbench.tasks.generation import load_generator

        self.gen, self.name, self.version = load_generator(run_dir, device), name, version
        self.shape = tuple(self.gen.spec.input_shape)

    def inputs(self) -> list[TensorSpec]:
        specs = [TensorSpec("count", "INT64", (1,)), TensorSpec("seed", "INT64", (1,), optional=True)]
        if self.gen.gan.conditional:
            specs.append(TensorSpec("labels", "BYTES", (-1,), optional=True))
        return specs

    def outputs(self) -> list[TensorSpec]:
        out = [TensorSpec("samples", "FP32", (-1, *self.shape))]
        return out + ([TensorSpec("labels", "BYTES", (-1,))] if self.gen.gan.conditional else [])

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]:
        import torch

        from dlbench.generate_cli import to_data_units

        n = int(inputs["count"][0])
        if not 1 <= n <= self.MAX_COUNT:
            raise UserError(f"count must be from 1 to {self.MAX_COUNT} (got {n})")
        seed = int(inputs["seed"][0]) if "seed" in inputs else 0
        names = self.gen.spec.class_names or [str(i) for i in range(self.gen.spec.num_classes or 0)]
        if "labels" in inputs:
            labels = [self.gen.label_index(_text(v)) for v in inputs["labels"]]
            if len(labels) != n:
                raise UserError(f"labels has {len(labels)} entries for count {n}; give one label per sample")
            x = self.gen.gan.sample(n, torch.tensor(labels), generator=torch.Generator().manual_seed(seed)).cpu()
            y = torch.tensor(labels)
        else:
            x, y = self.gen.sample(n, None, seed)
        out = {"samples": to_data_units(self.gen.preprocessing, x.numpy()).astype(np.float32)}
        if y is not None:
            out["labels"] = np.array([names[i] for i in y.tolist()], dtype=object)
        return out


def load_predictor(run_dir: str | Path, name: str | None = None, version: str = "1", device: str | None = None):
    """A verified, loaded run directory ready to serve (the sha256 of its weights is checked)."""
    from dlbench.tasks.generation import is_gan_run

    name = name or Path(run_dir).resolve().name
    if is_gan_run(run_dir):
        return GeneratorPredictor(run_dir, name, version, device)
    run = load_run(run_dir, device=device)
    if run.spec.task in FAMILY_LOADERS:
        return FAMILY_LOADERS[run.spec.task](run, name, version)
    if run.spec.task not in ("classification", "regression"):
        raise UserError(f"{run_dir}: serving {run.spec.task} models is not supported by this dlbench")
    return RunPredictor(run, name, version)
