"""Create, append to and read run directories.

    runs/<name>/config.yaml       resolved, validated config
                metrics.jsonl     one JSON object per logged step / eval
                checkpoints/      step-N.safetensors + step-N.json
                model.safetensors final weights; model.json: architecture + preprocessing + sha256
                result.json       final metrics, timings, hardware, versions

A new run never reuses an existing directory; only `--resume` writes into one.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from dlbench.errors import UserError
from dlbench.run.files import atomic_save_tensors, atomic_write_bytes, atomic_write_json, sha256_file


def new_run_dir(run_dir: str | Path | None, name: str, root: str | Path = "runs") -> Path:
    """The directory for a new run: `run_dir` if it does not exist yet, else a fresh runs/<name>-<time>."""
    if run_dir is not None:
        p = Path(run_dir)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            raise UserError(f"run directory {p} already exists",
                            "use --resume to continue it, or choose another --run-dir; runs are never overwritten")
        p.mkdir(parents=True, exist_ok=True)
        return p
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    p, k = base, 1
    while p.exists():
        p, k = base.with_name(f"{base.name}-{k}"), k + 1
    p.mkdir(parents=True)
    return p


def _clean(x):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.yaml")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    checkpoints = property(lambda self: self.path / "checkpoints")
    model_path = property(lambda self: self.path / "model.safetensors")
    model_json_path = property(lambda self: self.path / "model.json")
    result_path = property(lambda self: self.path / "result.json")

    def write_config(self, text: str) -> None:
        atomic_write_bytes(self.config_path, text.encode())

    def log(self, record: dict) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(_clean(record)) + "\n")

    def truncate_metrics(self, after_step: int) -> None:
        """On resume: forget what was logged after the checkpoint, since it will be logged again."""
        if not self.metrics_path.exists():
            return
        keep = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and _step_of(line) <= after_step]
        atomic_write_bytes(self.metrics_path, ("\n".join(keep) + "\n" if keep else "").encode())

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.exists():
            return []
        out = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
        return out

    def save_model(self, state_dict: dict, info: dict) -> None:
        digest = atomic_save_tensors(self.model_path, state_dict)
        atomic_write_json(self.model_json_path, _clean({**info, "sha256": digest}))

    def write_result(self, result: dict) -> None:
        atomic_write_json(self.result_path, _clean(result))

    def read_result(self) -> dict:
        return read_json(self.result_path, "result.json")


def _step_of(line: str) -> float:
    try:
        return json.loads(line).get("step", 0)
    except json.JSONDecodeError:
        return math.inf


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"{path.parent}: no {what}", "is this a finished dlbench run directory?")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: corrupt {what} ({e})", "the run directory is damaged; retrain or restore it") from None


def load_model_json(run_dir: str | Path) -> tuple[dict, Path]:
    """model.json of a run, after checking model.safetensors against the sha256 it records."""
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise UserError(f"run directory not found: {run_dir}")
    info = read_json(rd.model_json_path, "model.json")
    if not rd.model_path.is_file():
        raise UserError(f"{rd.path}: model.safetensors is missing", "the run did not finish; resume it with --resume")
    if sha256_file(rd.model_path) != info.get("sha256"):
        raise UserError(f"{rd.model_path}: sha256 does not match model.json",
                        "the weights file was modified or corrupted; refusing to load it")
    return info, rd.model_path
