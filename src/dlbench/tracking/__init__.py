"""Experiment tracking in the tools users already run: TensorBoard event files and MLflow.

Off by default; `tracking.tensorboard: true` / `tracking.mlflow: true` (or `-o tracking.mlflow=true`) turn
them on. A `Trackers` object receives what the run directory receives: the resolved config when the run
starts, every metrics.jsonl record as it is logged (train losses, learning rate, evaluations), and the
finished run (result.json metrics, the run directory as artifacts, the model as safetensors + model.json;
never a pickled model). A tracker that fails (an unreachable MLflow server) logs a warning and is dropped:
tracking never stops a training run.
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class Trackers:
    """The trackers a config turns on (`cfg.tracking`), fed from the run directory. They start at the first
    record, once the run directory exists; with none turned on every call does nothing."""

    def __init__(self, cfg, run_path: Path):
        self.cfg, self.run_path = cfg, Path(run_path)
        tc = getattr(cfg, "tracking", None)
        self.wanted = [(name, make) for on, name, make in (
            (tc is not None and tc.tensorboard, "TensorBoard", lambda: _tensorboard(self.run_path)),
            (tc is not None and tc.mlflow, "MLflow", lambda: _mlflow(tc, cfg, self.run_path))) if on]
        self.trackers: list | None = None

    def __bool__(self) -> bool:
        return bool(self.wanted)

    def _start(self) -> None:
        self.trackers = []
        for name, make in self.wanted:
            try:
                self.trackers.append(make())
            except Exception as e:  # an unreachable server or a missing package: warn, train anyway
                log.warning("%s tracking turned off: %s: %s", name, type(e).__name__, str(e).splitlines()[0])
        self._each("start", self.cfg.model_dump(mode="json"))

    def log(self, record: dict) -> None:
        if self.wanted:
            if self.trackers is None:
                self._start()
            self._each("log", record)

    def finish(self, run_path: Path, result: dict | None) -> None:
        if self.trackers is not None:  # started: the run got as far as its first record
            self._each("finish", Path(run_path), result)

    def _each(self, method: str, *args) -> None:
        for t in list(self.trackers or []):
            try:
                getattr(t, method)(*args)
            except Exception as e:  # a tracking backend's failure must never end a training run
                log.warning("%s tracking turned off: %s: %s", t.name, type(e).__name__, str(e).splitlines()[0])
                self.trackers.remove(t)


def _tensorboard(run_path):
    from dlbench.tracking.tensorboard import TensorBoardTracker  # lazy: tensorboard is only needed when on

    return TensorBoardTracker(Path(run_path) / "tensorboard")


def _mlflow(tc, cfg, run_path):
    from dlbench.tracking.mlflow_tracker import MLflowTracker  # lazy: mlflow is only needed when on

    return MLflowTracker(tc.mlflow_uri, tc.mlflow_experiment or cfg.name or "dlbench", Path(run_path).name)


def flat(d: dict, prefix: str = "") -> dict:
    """Nested config -> {"optim.lr": 0.001, ...} (lists as text), the shape trackers take parameters in."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat(v, key + "."))
        else:
            out[key] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
    return out


def scalars(record: dict, prefix: str | None = None) -> dict[str, float]:
    """The numbers of a metrics.jsonl record worth plotting, named `<kind>/<key>` ("train/train.loss": the
    running loss of the training batches; "eval/train.loss": the evaluation of the training subset)."""
    prefix = prefix if prefix is not None else f"{record.get('kind', 'other')}/"
    return {f"{prefix}{k}": float(v) for k, v in record.items()
            if k not in ("step", "kind") and isinstance(v, (int, float)) and not isinstance(v, bool)}
