"""The reference profile: what a run's inputs and predictions looked like at training time, kept in the run.

    RUN/reference_profile.json   {"format", "source", "inputs": [feature...], "outputs": [feature...]}

model.json records the file's sha256 under `reference_profile` ({"file", "sha256"}), so model.json's description
hash covers it like the weights: an edited profile is refused when it is read, never silently trusted.

Each feature (features.py) is summarized as
    numeric:     count, mean, std, min, max, quantiles, `edges` (min, the training deciles, just above max) with
                 the share of rows in each of the len(edges) + 1 bins (`proportions`, for the PSI), and `sample`: up to SAMPLE values
                 for the two-sample tests (Kolmogorov-Smirnov, Wasserstein);
    categorical: `categories` and `proportions` over them plus a last entry for unseen ones.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.monitor.features import Extractor, Feature
from dlbench.run.files import SHA256_RE, atomic_write_bytes

FILE = "reference_profile.json"
FORMAT = "dlbench-profile/1"
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
DECILES = tuple(i / 10 for i in range(1, 10))
SAMPLE = 400


def _g(v: float) -> float:
    return float(f"{float(v):.6g}")  # 6 significant digits keep the file small; far finer than any drift


def summarize(feature: Feature, values: np.ndarray, rng: np.random.Generator) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if feature.kind == "categorical":
        counts = np.bincount(values.astype(np.int64), minlength=len(feature.categories) + 1)
        return {"name": feature.name, "kind": "categorical", "count": int(len(values)),
                "categories": list(feature.categories),
                "proportions": [_g(c) for c in counts / max(len(values), 1)]}
    # The training deciles, plus the min and just above the max: values beyond the training range fall into
    # bins of their own (empty at training), so a constant feature, or one pushed past its range, still moves.
    edges = np.unique(np.concatenate([[values.min()], np.quantile(values, DECILES), [np.nextafter(values.max(), np.inf)]]))
    props = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1).astype(np.float64)
    # A new row lands beyond the min or the max of n training rows with probability about 1/(n+1) each (rule of
    # succession): the tail bins get that share rather than none, so a rare in-distribution extreme costs little.
    props[[0, -1]] += len(values) / (len(values) + 1)
    props /= props.sum()
    sample = values if len(values) <= SAMPLE else rng.choice(values, SAMPLE, replace=False)
    return {"name": feature.name, "kind": "numeric", "count": int(len(values)),
            "mean": _g(values.mean()), "std": _g(values.std()), "min": _g(values.min()), "max": _g(values.max()),
            "quantiles": {str(q): _g(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))},
            "edges": [float(e) for e in edges], "proportions": [_g(p) for p in props],
            "sample": sorted(_g(v) for v in sample)}


def build_profile(inputs: Extractor, input_rows: np.ndarray, outputs: Extractor | None, output_rows: np.ndarray | None,
                  source: dict, seed: int = 0) -> dict:
    """The profile of feature matrices ([rows, features] from `Extractor.extract`)."""
    if len(input_rows) == 0:
        raise UserError("no rows to profile")
    rng = np.random.default_rng(seed)
    doc = {"format": FORMAT, "source": source,
           "inputs": [summarize(f, input_rows[:, j], rng) for j, f in enumerate(inputs.features)], "outputs": []}
    if outputs is not None and output_rows is not None and len(output_rows):
        doc["outputs"] = [summarize(f, output_rows[:, j], rng) for j, f in enumerate(outputs.features)]
    return doc


def save_profile(run_path: str | Path, profile: dict) -> dict:
    """Write RUN/reference_profile.json atomically; returns the record model.json keeps: {"file", "sha256"}."""
    data = (json.dumps(profile, separators=(",", ":")) + "\n").encode()
    atomic_write_bytes(Path(run_path) / FILE, data)
    return {"file": FILE, "sha256": hashlib.sha256(data).hexdigest()}


def load_profile(run_path: str | Path, info: dict) -> dict | None:
    """The verified profile of a run whose model.json (already verified) is `info`; None for a run trained
    before profiles were stored. A profile that does not match its sha256 is a UserError naming the file."""
    record = info.get("reference_profile")
    if record is None:
        return None
    path = Path(run_path) / FILE
    fix = "the run directory is damaged: restore reference_profile.json or retrain the run"
    if not isinstance(record, dict) or record.get("file") != FILE or not SHA256_RE.match(str(record.get("sha256"))):
        raise UserError(f"{run_path}/model.json: its reference_profile record is malformed", fix)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})", fix) from None
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise UserError(f"{path}: sha256 does not match model.json (the file was edited or corrupted)", fix)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise UserError(f"{path}: not JSON", fix) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UserError(f"{path}: not a {FORMAT} profile", "was the run made by a newer dlbench? upgrade dlbench")
    return doc


@dataclass
class FeatureRef:
    """One feature of a profile, as arrays ready for scoring."""
    name: str
    kind: str
    proportions: np.ndarray
    categories: tuple[str, ...] = ()
    edges: np.ndarray | None = None
    sample: np.ndarray | None = None
    mean: float = 0.0
    std: float = 0.0
    min: float = 0.0
    max: float = 0.0

    @property
    def scale(self) -> float:
        """The training spread a distance is measured in: the std, else the range, else 1 (a constant)."""
        return self.std if self.std > 0 else (self.max - self.min) or 1.0

    @classmethod
    def parse(cls, d: dict) -> "FeatureRef":
        props = np.asarray(d["proportions"], dtype=np.float64)
        if d["kind"] == "categorical":
            return cls(d["name"], "categorical", props, tuple(d["categories"]))
        return cls(d["name"], "numeric", props, edges=np.asarray(d["edges"], dtype=np.float64),
                   sample=np.asarray(d["sample"], dtype=np.float64), mean=float(d["mean"]), std=float(d["std"]),
                   min=float(d["min"]), max=float(d["max"]))


def parse_features(profile: dict, part: str, expected: list[str], where: str) -> list[FeatureRef]:
    """The `part` ("inputs" | "outputs") of a profile, checked to hold exactly the features `expected`."""
    try:
        refs = [FeatureRef.parse(d) for d in profile.get(part, [])]
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{where}: the reference profile is malformed ({type(e).__name__}: {e})",
                        "restore reference_profile.json or retrain the run") from None
    if [r.name for r in refs] != list(expected):
        raise UserError(f"{where}: the reference profile's {part} ({', '.join(r.name for r in refs)[:200]}) are not "
                        f"the model's ({', '.join(expected)[:200]})", "retrain the run with this dlbench")
    return refs
