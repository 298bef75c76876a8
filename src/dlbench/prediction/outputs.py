"""Predictions as CSV (or .npz / .json / .txt by the output's extension): labels with per-class
probabilities, values, or one text per line."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from dlbench.errors import UserError


def write_predictions(spec, preds: dict[str, np.ndarray], rows: list[str] | None, output: str | None) -> str:
    """Predictions as CSV (or .npz / .json by the output's extension). Returns the text when output is None."""
    names = spec.class_names
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
