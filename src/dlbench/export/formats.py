"""Export a run's model: ONNX (checked in onnxruntime against torch) or safetensors + JSON.

The ONNX graph takes raw inputs for array runs (the stored standardization is part of the graph)
and answers probabilities (classifiers) or values in the target's units (regressors), so it needs
nothing from the run directory. For tabular, image and text runs the graph starts at the model's
inputs; the preprocessing to replay is in model.json, which the export writes beside the .onnx.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
import numpy as np
import torch

from dlbench.errors import UserError
from dlbench.run.load import load_run
from dlbench.run.loaded import LoadedRun
from dlbench.run.rundir import load_model_json


class Exported(torch.nn.Module):
    """model + the array preprocessing in front + softmax / de-standardization behind."""

    def __init__(self, run: LoadedRun):
        super().__init__()
        self.model, self.task = run.model, run.spec.task
        standardization = run.codec.graph_standardization()
        self.raw_inputs = standardization is not None
        mean, std = standardization or (0.0, 1.0)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.y_mean = float(run.spec.extras.get("target_mean", 0.0))
        self.y_std = float(run.spec.extras.get("target_std", 1.0))

    def forward(self, x):
        if self.raw_inputs:
            x = (x - self.mean) / self.std
        out = self.model(x)
        if self.task == "classification":
            return out.softmax(-1)
        return out * self.y_std + self.y_mean


def example_inputs(run: LoadedRun, n: int = 8) -> np.ndarray:
    """Real validation inputs (raw for array runs), so the parity check sees the data's range."""
    from dlbench.data import build_data

    try:
        x = build_data(run.config.data).val.x[:n].numpy()
    except UserError:  # the training data is gone: random inputs of the right shape still check the graph
        x = np.random.default_rng(0).normal(size=(n, *run.spec.input_shape)).astype(np.float32)
    standardization = run.codec.graph_standardization()
    if standardization is not None:
        x = x * standardization[1] + standardization[0]  # back to raw values
    return np.ascontiguousarray(x)


def export_onnx(run: LoadedRun, output: Path, atol: float = 1e-4) -> dict:
    if run.spec.task not in ("classification", "regression"):
        why = {"forecasting": "its inputs are windows rebuilt from a series' history by `dlbench predict`, "
                              "not one tensor a graph could take"}.get(run.spec.task,
                                                                        "autoregressive decoding or sampling is not one graph")
        raise UserError(f"ONNX export of {run.spec.task} models is not supported ({why})", "use --format safetensors")
    wrapped = Exported(run).eval()
    x = example_inputs(run)
    dtype = torch.long if run.codec.input_dtype == np.int64 else torch.float32
    xt = torch.as_tensor(x, dtype=dtype)
    output.parent.mkdir(parents=True, exist_ok=True)
    name_out = "probabilities" if run.spec.task == "classification" else "prediction"
    with torch.no_grad():
        expected = wrapped(xt).numpy()
        torch.onnx.export(wrapped, (xt,), str(output), input_names=["input"], output_names=[name_out],
                          dynamic_axes={"input": {0: "batch"}, name_out: {0: "batch"}}, dynamo=False)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.astype(np.int64 if dtype == torch.long else np.float32)})[0]
    diff = float(np.max(np.abs(got - expected)))
    ok = diff <= atol
    if not ok:
        output.unlink()
        raise UserError(f"ONNX export does not match the torch model: max |diff| {diff:.3g} > {atol}",
                        "report this model; --format safetensors is exact")
    info = json.loads((run.path / "model.json").read_text())
    output.with_suffix(".json").write_text(json.dumps({**info, "onnx": {
        "input": "raw features" if wrapped.raw_inputs else "model inputs (apply model.json preprocessing first)",
        "output": name_out}}, indent=1))
    return {"format": "onnx", "output": str(output), "checked_samples": len(x), "max_abs_diff": diff, "atol": atol,
            "onnxruntime": ort.__version__, "passed": ok}


def export_safetensors(run: LoadedRun, output: Path) -> dict:
    """A directory with the verified weights and their JSON (architecture, preprocessing, sha256)."""
    output.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run.path / "model.safetensors", output / "model.safetensors")
    shutil.copyfile(run.path / "model.json", output / "model.json")
    info, _ = load_model_json(output)  # re-verify the copy against its sha256
    return {"format": "safetensors", "output": str(output), "sha256": info["sha256"], "passed": True}


def export_run(run_dir: str | Path, fmt: str, output: str | Path, atol: float = 1e-4) -> dict:
    out = Path(output)
    if out.exists():
        raise UserError(f"--output {out} already exists", "choose a new path; nothing is overwritten")
    if fmt not in ("onnx", "safetensors"):
        raise UserError(f"unknown export format '{fmt}'", "use onnx or safetensors")
    run = load_run(run_dir, device="cpu")
    if fmt not in run.recipe.exports:
        raise UserError(f"{run.recipe.name} runs export as {' or '.join(run.recipe.exports)}, not {fmt}",
                        f"use --format {run.recipe.exports[0]}")
    return export_onnx(run, out, atol) if fmt == "onnx" else export_safetensors(run, out)
