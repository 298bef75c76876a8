"""Load a finished run (verified weights, stored preprocessing) and predict on new inputs."""
from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from dlbench.config import Config, parse_config
from dlbench.data.bundle import DataSpec
from dlbench.data.preprocess import preprocessor_from_json
from dlbench.errors import UserError
from dlbench.models import build_model
from dlbench.run.rundir import load_model_json
from dlbench.tasks import build_task
from dlbench.training.device import pick_device


@dataclass
class LoadedRun:
    path: Path
    config: Config
    info: dict
    spec: DataSpec
    model: torch.nn.Module
    task: object
    preprocessor: object
    device: torch.device

    @property
    def name(self) -> str:
        return self.path.name

    @torch.no_grad()
    def predict_arrays(self, x: np.ndarray, batch_size: int = 1024) -> dict[str, np.ndarray]:
        """Model inputs (already preprocessed) -> task predictions, batched."""
        self.model.eval()
        outs = [self.model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(self.device))
                for i in range(0, len(x), batch_size)]
        if not outs:
            raise UserError("no samples to predict")
        return self.task.predictions(torch.cat(outs))


def load_run(run_dir: str | Path, device: str | None = None) -> LoadedRun:
    info, weights = load_model_json(run_dir)
    if info.get("family") == "gan":  # a generator has no inputs to predict from
        raise UserError(f"{run_dir} is a GAN run: it generates samples rather than predicting",
                        "use `dlbench generate RUN --n N --output FILE` (or dlbench.tasks.generation.load_generator)")
    try:
        cfg = parse_config(info["config"], source=f"{run_dir}/model.json")
        spec = DataSpec.from_json(info["spec"])
        pre = preprocessor_from_json(info["preprocessing"])
    except (KeyError, TypeError) as e:
        raise UserError(f"{run_dir}/model.json is incomplete ({e})", "the run directory is damaged") from None
    dev = pick_device(device or ("cpu" if cfg.train.device == "auto" and not torch.cuda.is_available() else cfg.train.device))
    model = build_model(cfg.model, spec)
    try:
        model.load_state_dict(load_file(str(weights)))
    except (RuntimeError, OSError) as e:
        raise UserError(f"{weights}: weights do not fit the architecture in model.json ({str(e).splitlines()[0]})") from None
    model.to(dev).eval()
    return LoadedRun(Path(run_dir), cfg, info, spec, model, build_task(spec, cfg), pre, dev)


# --- reading inputs -----------------------------------------------------------------------------

def read_inputs(run: LoadedRun, path: str) -> tuple[np.ndarray, list[str] | None]:
    """A CSV / NPZ / image file or folder -> (model inputs, row names)."""
    kind = run.preprocessor.kind
    p = Path(path)
    if path != "-" and not p.exists():
        raise UserError(f"input not found: {path}")
    if kind == "text":  # one text per line: a .txt file or '-' (stdin); or a CSV with a 'text' column
        from dlbench.data.tokenize import read_text_inputs

        return read_text_inputs(run.preprocessor, path)
    if kind == "image":
        from dlbench.data.images import IMAGE_SUFFIXES

        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
        if not files:
            raise UserError(f"{path}: no PNG/JPEG images to predict")
        return run.preprocessor.transform(files), [str(f) for f in files]
    if p.suffix == ".npz":
        from dlbench.data.arrays import load_npz

        arrays = load_npz(p)
        if "x" not in arrays:
            raise UserError(f"{path}: needs an array named 'x' (found {', '.join(arrays) or 'none'})")
        return run.preprocessor.transform(arrays["x"]), None
    if p.suffix == ".csv" or path == "-":
        import pandas as pd

        try:
            frame = pd.read_csv(sys.stdin if path == "-" else p)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: not a readable CSV file: {str(e).splitlines()[0]}") from None
        if kind == "tabular":
            return run.preprocessor.transform(frame), None
        # array models: one sample per row, its values flattened; a label column, if present, is ignored
        frame = frame.drop(columns=[c for c in ("label", "target", "y") if c in frame.columns])
        return run.preprocessor.transform(frame.to_numpy()), None
    raise UserError(f"{path}: unsupported input type '{p.suffix}'", "give a .csv, .npz or image file/folder")


def write_predictions(run: LoadedRun, preds: dict[str, np.ndarray], rows: list[str] | None, output: str | None) -> str:
    """Predictions as CSV (or .npz / .json by the output's extension). Returns the text when output is None."""
    names = run.spec.class_names
    if (output or "").endswith(".txt") or ("translation" in preds and output is None):  # one output per line
        from dlbench.data.tokenize import write_text_outputs

        values = preds.get("translation")
        if values is None:
            values = [names[i] if names else str(i) for i in preds["label"]] if "label" in preds else preds["prediction"]
        return write_text_outputs([str(v) for v in values], output)
    table: dict[str, list] = {}
    if rows is not None:
        table["input"] = rows
    if "label" in preds:
        table["label"] = [names[i] if names else int(i) for i in preds["label"]]
        for j in range(preds["probabilities"].shape[1]):
            table[f"prob_{names[j] if names else j}"] = [float(v) for v in preds["probabilities"][:, j]]
    elif "translation" in preds:
        table["translation"] = [str(v) for v in preds["translation"]]
    else:
        pred = preds["prediction"]
        if pred.ndim == 1:
            table["prediction"] = [float(v) for v in pred]
        else:
            for j in range(pred.shape[1]):
                table[f"prediction_{j}"] = [float(v) for v in pred[:, j]]
    if output and output.endswith(".npz"):
        np.savez(output, **{k: np.asarray(v) for k, v in preds.items()})
        return ""
    if output and output.endswith(".json"):
        import json

        Path(output).write_text(json.dumps(table))
        return ""
    if output and not output.endswith(".csv"):
        raise UserError(f"--output {output}: unsupported extension", "use .csv, .npz or .json")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(table))
    w.writerows(zip(*table.values()))
    if output:
        Path(output).write_text(buf.getvalue())
        return ""
    return buf.getvalue()


def predict(run_dir: str | Path, inputs: str, output: str | None = None, device: str | None = None,
            beam: int | None = None) -> dict:
    """Predict for a file of inputs; write them to `output` (csv/npz/json, .txt for text) and return them.

    beam: beam size for translation models (default: the model's decode.beam)."""
    if output and Path(output).exists():
        raise UserError(f"--output {output} already exists", "choose a new file name (nothing is overwritten)")
    run = load_run(run_dir, device)
    x, rows = read_inputs(run, inputs)
    if run.spec.task == "seq2seq":
        preds = {"translation": np.array(run.task.translate(run.model, x, run.device, beam=beam), dtype=str)}
    elif beam is not None:
        raise UserError("--beam applies to translation (seq2seq) models only")
    else:
        preds = run.predict_arrays(x)
    text = write_predictions(run, preds, rows, output)
    return {"predictions": preds, "text": text}
