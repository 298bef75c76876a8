"""Live data for an offline drift check: the server's request log read back into request tensors.

The request log (dlbench.serve.request_log) holds one JSON object per sampled request with its inputs and outputs
as nested lists; `read_request_log` gives back, for one served model and version, every row's inputs (typed by the
run's codec request specs) and outputs, concatenated, ready for `features.Extractor.extract`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dlbench.codecs.base import DATATYPES
from dlbench.errors import UserError


def is_request_log(path: str | Path) -> bool:
    """Whether a file is a request log: its first line is a JSON object with "inputs" and "outputs"."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with p.open("rb") as f:
            first = f.readline(1 << 22).strip()
        doc = json.loads(first) if first.startswith(b"{") else None
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "inputs" in doc and "outputs" in doc


def _records(paths: list[str]):
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as e:
            raise UserError(f"cannot read {path}: {e.strerror or e}") from None
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash or a rotation
            if isinstance(rec, dict) and isinstance(rec.get("inputs"), dict) and isinstance(rec.get("outputs"), dict):
                yield rec


def _array(values, datatype: str, where: str) -> np.ndarray:
    if datatype == "BYTES":
        flat = np.asarray(values, dtype=object)
        return flat
    try:
        return np.asarray(values, dtype=DATATYPES[datatype])
    except (TypeError, ValueError) as e:
        raise UserError(f"{where}: not {datatype} values ({e})", "is this log from another model?") from None


def read_request_log(paths: list[str], specs, model: str | None = None, version: str | None = None):
    """(inputs, outputs, (model, version), requests) of the logged requests of one served model version.

    specs: the run's request TensorSpecs (codec.request_specs). With `model`/`version` None, the log must hold
    one model (and one version of it): otherwise a UserError lists what it holds."""
    records = [r for r in _records(paths)
               if (model is None or r.get("model") == model) and (version is None or str(r.get("version")) == version)]
    served = sorted({(str(r.get("model")), str(r.get("version"))) for r in records})
    if not records:
        want = f" for model {model}" + (f" version {version}" if version else "") if model else ""
        raise UserError(f"{', '.join(paths)}: no logged requests{want}",
                        "serve with --request-log FILE --request-log-sample-rate RATE, send traffic, then try again")
    if len(served) > 1:
        raise UserError(f"the request log holds several models/versions ({', '.join(f'{m}:{v}' for m, v in served)})",
                        "pick one with --model NAME --version V")
    names = [s.name for s in specs]
    inputs: dict[str, list] = {n: [] for n in names}
    outputs: dict[str, list] = {}
    by_spec = {s.name: s for s in specs}
    for i, r in enumerate(records):
        present = [n for n in names if n in r["inputs"]]
        if not present:
            raise UserError(f"logged request {i + 1} has none of the model's inputs ({', '.join(names)})",
                            "is this log from another model? pick it with --model")
        for n in present:
            inputs[n].append(_array(r["inputs"][n], by_spec[n].datatype, f"logged request {i + 1}, input '{n}'"))
        for k, v in r["outputs"].items():
            outputs.setdefault(k, []).append(np.asarray(v, dtype=object if _is_text(v) else np.float64))
    joined_in = {n: np.concatenate(v) for n, v in inputs.items() if v}
    joined_out = {k: np.concatenate(v) for k, v in outputs.items()}
    return joined_in, joined_out, served[0], len(records)


def _is_text(v) -> bool:
    while isinstance(v, list) and v:
        v = v[0]
    return isinstance(v, str)
