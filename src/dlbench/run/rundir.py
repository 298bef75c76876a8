"""Create, append to and read run directories.

    runs/<name>/config.yaml       resolved, validated config
                metrics.jsonl     one JSON object per logged step / eval
                checkpoints/      step-N.safetensors + step-N.json
                model.safetensors final weights; model.json: architecture, preprocessing, labels, tokenizer,
                                  the weights' sha256 and description_sha256 over all of it
                result.json       final metrics, timings, hardware, versions
                test_access.jsonl one line each time the test split was opened (training's final test, evaluate)

A new run never reuses a directory that holds anything (only an empty one, or one that holds nothing but
the temporary of an interrupted write); only `--resume` writes into an existing run. A new run's directory
is created only once its data and model are built (`RunDir.create`, called by the training regimes), and
is created together with its config.yaml: a run directory is either absent or complete enough to resume,
so a run that fails on its data, or on a full disk while writing its config, never blocks its own retry.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path

from dlbench.errors import UserError
from dlbench.run.files import (append_text, atomic_save_tensors, atomic_write_bytes, atomic_write_json,
                               canonical_sha256, disk_error, load_verified_tensors, sha256_file)

log = logging.getLogger(__name__)
MODEL_FORMAT = "dlbench-model/2"
"""model.json with `description_sha256`: the sha256 of everything else in it, the weights' sha256 included."""
LEGACY_MODEL_FORMATS = ("dlbench-model/1",)
"""Written by dlbench before the description hash: loaded with a warning when they carry no hash at all."""
TEST_ACCESS = "test_access.jsonl"


def _leftover(p: Path) -> bool:
    """The temporary of an atomic write that never finished (run/files.py names them `.NAME.tmp`)."""
    return p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file()


def is_unused(path: str | Path) -> bool:
    """Whether a new run may go to `path`: absent, or a directory holding nothing but leftover temporaries."""
    p = Path(path)
    if not p.exists():
        return True
    return p.is_dir() and all(_leftover(c) for c in p.iterdir())


def has_run(path: str | Path) -> bool:
    """Whether `path` holds a run that --resume can continue (its config.yaml is written first)."""
    return (Path(path) / "config.yaml").is_file()


def plan_run_dir(run_dir: str | Path | None, name: str, root: str | Path = "runs") -> Path:
    """Where a new run goes, checked now and created later (`RunDir.create`): `run_dir` if it is unused,
    else a fresh runs/<name>-<time>."""
    if run_dir is not None:
        p = Path(run_dir)
        if not is_unused(p):
            raise UserError(f"run directory {p} already exists",
                            "use --resume to continue it, or choose another --run-dir; runs are never overwritten")
        return p
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    p, k = base, 1
    while p.exists():
        p, k = base.with_name(f"{base.name}-{k}"), k + 1
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
    """A run directory. `RunDir(path)` is an existing one (or one another process creates); `RunDir.new`
    plans a new one, which `create()` makes, with its config.yaml, once the data and model are built.
    Every write creates a planned directory first, so no write can leave a directory without its config."""

    def __init__(self, path: str | Path, config_text: str | None = None, auto_named: bool = False):
        self.path = Path(path)
        self._config_text = config_text
        self._auto_named = auto_named
        self.listeners: list = []
        """Callables given every metrics.jsonl record after it is written (experiment trackers)."""

    @classmethod
    def new(cls, run_dir: str | Path | None, name: str, config_text: str, root: str | Path = "runs") -> "RunDir":
        """A new run: `run_dir` (refused now when it already holds something) or runs/<name>-<time>."""
        return cls(plan_run_dir(run_dir, name, root), config_text, auto_named=run_dir is None)

    config_path = property(lambda self: self.path / "config.yaml")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    model_path = property(lambda self: self.path / "model.safetensors")
    model_json_path = property(lambda self: self.path / "model.json")
    result_path = property(lambda self: self.path / "result.json")
    test_access_path = property(lambda self: self.path / TEST_ACCESS)

    @property
    def checkpoints(self) -> Path:
        self.create()  # the loops write checkpoints under this path
        return self.path / "checkpoints"

    @property
    def created(self) -> bool:
        return self._config_text is None

    def create(self) -> None:
        """Make a planned run directory and write its config.yaml (nothing for an existing run). Called by
        the training regimes once the data and model are built; when the config cannot be written (a full
        disk), what this made is removed again, so the retry finds the path unused."""
        if self._config_text is None:
            return
        made = self._claim()
        try:
            self.write_config(self._config_text)
        except BaseException:
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
            else:
                self.config_path.unlink(missing_ok=True)
            raise
        self._config_text = None

    def _claim(self) -> Path | None:
        """mkdir the planned directory; returns the topmost directory this made (None: it existed, unused)."""
        while True:
            top = next((p for p in reversed([self.path, *self.path.parents]) if not p.exists()), None)
            try:
                if top is None:
                    if not is_unused(self.path):
                        raise FileExistsError(self.path)
                    for leftover in self.path.iterdir():
                        leftover.unlink(missing_ok=True)
                else:
                    self.path.mkdir(parents=True, exist_ok=False)
                return top
            except FileExistsError:
                if not self._auto_named:  # someone else started a run there since it was planned
                    raise UserError(f"run directory {self.path} already exists",
                                    "choose another --run-dir; runs are never overwritten") from None
                self.path = plan_run_dir(None, self.path.name, self.path.parent)
            except OSError as e:
                err = disk_error(self.path, e)
                if err is None:
                    raise
                raise err from None

    def write_config(self, text: str) -> None:
        atomic_write_bytes(self.config_path, text.encode())

    def log(self, record: dict) -> None:
        self.create()
        append_text(self.metrics_path, json.dumps(_clean(record)) + "\n")
        for listener in self.listeners:
            listener(record)

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
        for line in self.metrics_path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash or a full disk
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def save_model(self, state_dict: dict, info: dict) -> None:
        """model.safetensors, then model.json: `info` with the weights' sha256 and `description_sha256`,
        the sha256 of everything in model.json (config, spec, preprocessing, labels, tokenizer, that sha256)."""
        self.create()
        digest = atomic_save_tensors(self.model_path, state_dict)
        record = _clean({**info, "format": MODEL_FORMAT, "sha256": digest})
        record["description_sha256"] = canonical_sha256(record)
        atomic_write_json(self.model_json_path, record)

    def write_result(self, result: dict) -> None:
        self.create()
        atomic_write_json(self.result_path, _clean(result))

    def read_result(self) -> dict:
        return read_json(self.result_path, "result.json")

    # --- the test split ---------------------------------------------------------------------------
    def test_accesses(self) -> list[dict]:
        """Each time the test split of this run was opened: {"time", "by"}, oldest first."""
        if not self.test_access_path.is_file():
            return []
        out = []
        for line in self.test_access_path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def record_test_access(self, by: str) -> list[dict]:
        """Append one opening of the test split (one O_APPEND line, so concurrent evaluations all count);
        returns the earlier ones."""
        earlier = self.test_accesses()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        append_text(self.test_access_path, json.dumps({"time": stamp, "by": by}) + "\n")
        return earlier


def _step_of(line: str) -> float:
    try:
        rec = json.loads(line)
        step = rec.get("step", 0) if isinstance(rec, dict) else math.inf
        return step if isinstance(step, (int, float)) else math.inf
    except json.JSONDecodeError:
        return math.inf


def read_json(path: Path, what: str) -> dict:
    """A JSON object from a run directory; one UserError line naming the file when it is not one."""
    if not path.is_file():
        raise UserError(f"{path.parent}: no {what}", "is this a finished dlbench run directory?")
    damaged = "the run directory is damaged; retrain or restore it"
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise UserError(f"{path}: corrupt {what} ({str(e)[:200]})", damaged) from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: {what} is not a JSON object", damaged)
    return obj


_warned_legacy: set[str] = set()


def check_description(info: dict, path: Path) -> None:
    """Refuse a model.json whose description does not hash to its `description_sha256`.

    A model.json of the previous format ("dlbench-model/1", written before the description hash) that
    carries no hash at all is loaded with a warning: those runs cannot be re-hashed without retraining.
    Any other model.json without the hash is refused, so deleting the field does not skip the check."""
    recorded = info.get("description_sha256")
    if recorded is None and info.get("format") in LEGACY_MODEL_FORMATS:
        if str(path) not in _warned_legacy:
            _warned_legacy.add(str(path))
            log.warning("%s was written by an older dlbench without a description hash: its config, "
                        "preprocessing and labels are not verified (retrain the run to get a verified one)", path)
        return
    if recorded is None:
        raise UserError(f"{path}: no description_sha256, so the model description cannot be verified",
                        "model.json was edited or not written by dlbench; refusing to load it")
    body = {k: v for k, v in info.items() if k != "description_sha256"}
    if recorded != canonical_sha256(body):
        raise UserError(f"{path}: the model description does not match its description_sha256 "
                        "(model.json was edited or corrupted)",
                        "refusing to load it; restore model.json or retrain the run")


def read_model_json(run_dir: str | Path) -> dict:
    """A run's model.json, its description verified (not yet its weights)."""
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise UserError(f"run directory not found: {run_dir}")
    info = read_json(rd.model_json_path, "model.json")
    check_description(info, rd.model_json_path)
    if not rd.model_path.is_file():
        raise UserError(f"{rd.path}: model.safetensors is missing", "the run did not finish; resume it with --resume")
    return info


def load_model_json(run_dir: str | Path) -> tuple[dict, Path]:
    """model.json of a run, after checking its description and model.safetensors against the sha256s it records."""
    info = read_model_json(run_dir)
    rd = RunDir(run_dir)
    if sha256_file(rd.model_path) != info.get("sha256"):
        raise UserError(f"{rd.model_path}: sha256 does not match model.json",
                        "the weights file was modified or corrupted; refusing to load it")
    return info, rd.model_path


def load_model(run_dir: str | Path) -> tuple[dict, dict]:
    """(model.json, weights) of a run: the description verified, the weights read once and verified
    against model.json's sha256 before they are parsed."""
    info = read_model_json(run_dir)
    rd = RunDir(run_dir)
    try:
        weights = load_verified_tensors(rd.model_path, info.get("sha256"))
    except ValueError as e:
        raise UserError(f"{rd.path}/{e}", "the weights file was modified or corrupted; refusing to load it") from None
    return info, weights
