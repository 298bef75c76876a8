"""Keep-best: the best validation evaluation so far and its weights, shared by every training loop.

The weights live in memory and in checkpoints/best.safetensors; the loop state (saved in each checkpoint)
records the step and the file's sha256, so a resumed run restores them only when the file is exactly
the one that state describes. Anything else (a corrupt, swapped or missing file) is skipped with a
warning and the search for the best starts again from the resumed step: garbage never becomes the model.
"""
from __future__ import annotations

import logging
import math

from dlbench.run.files import atomic_save_tensors, load_verified_tensors

log = logging.getLogger(__name__)


def better(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if not math.isfinite(value):
        return False
    if best is None or not math.isfinite(best):
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class KeepBest:
    """metric/mode: what selects the best evaluation; tie_metric (minimized, e.g. val.loss) breaks exact
    ties, so a classifier at accuracy 1.0 keeps its later, more confident weights; keep: hold the weights
    (train.keep_best); write: this process writes the file (rank 0)."""

    def __init__(self, run, metric: str, mode: str, min_delta: float = 0.0, keep: bool = True,
                 write: bool = True, tie_metric: str | None = None):
        self.path = run.checkpoints / "best.safetensors"
        self.metric, self.mode, self.min_delta = metric, mode, min_delta
        self.keep, self.write, self.tie_metric = keep, write, tie_metric
        self.weights = None

    def offer(self, state: dict, step: int, metrics: dict, model) -> bool:
        """Record this evaluation if it is the best so far; True when it is."""
        value = metrics[self.metric]
        tie = metrics.get(self.tie_metric) if self.tie_metric else None
        improved = better(value, state.get("best"), self.mode, self.min_delta)
        if not improved and self.tie_metric and state.get("best") == value and tie is not None:
            improved = state.get("best_tie") is None or tie < state["best_tie"]
        if not improved:
            return False
        if self.keep:
            weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if self.write:  # first: a failed write (a full disk) leaves the state describing the previous file
                state["best_sha256"] = atomic_save_tensors(self.path, weights, metadata={"step": str(step)})
            self.weights = weights
        state.update(best=value, best_step=step, best_tie=tie)
        return True

    def restore(self, state: dict) -> None:
        """On resume: the best weights the state describes, verified, or a fresh start of the search."""
        if not self.keep or state.get("best_step") is None:
            return
        try:
            if not state.get("best_sha256"):
                raise ValueError("the checkpoint records no sha256 for it")
            self.weights = load_verified_tensors(self.path, state["best_sha256"])
        except (ValueError, OSError) as e:
            log.warning("ignoring %s (%s); the best weights are chosen again from step %d on",
                        self.path, e, state.get("step", 0))
            self.weights = None
            state.update(best=None, best_step=None, best_tie=None, best_sha256=None)

    def apply(self, model) -> None:
        """Load the best weights into the model (at the end of training)."""
        if self.keep and self.weights is not None:
            model.load_state_dict(self.weights)
