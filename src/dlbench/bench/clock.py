"""The timed region of one run, under MLPerf Training's clock rules.

`TimedRun` is the training loop's observer (training/loop.py calls run_start, eval_start,
eval_stop): it logs init_stop and run_start before the loop touches the training data,
brackets every evaluation, and ends the run at the first evaluation that meets the target
(run_stop success) or at the last one of the step budget (aborted). Timestamps come from
`Clock`, taken after a device synchronization.
"""
from __future__ import annotations

import time

import torch

from dlbench.bench.live import RunLine
from dlbench.bench.mllog import MLPerfRunLogger
from dlbench.bench.suite import Benchmark
from dlbench.errors import UserError
from dlbench.training.device import synchronize


class Clock:
    """Milliseconds since the epoch from a monotonic counter (the wall clock may be stepped by NTP)."""

    def __init__(self, device: torch.device):
        self.device = device
        self._wall0, self._perf0 = time.time(), time.perf_counter()

    def now_ms(self) -> float:
        synchronize(self.device)  # a timestamp means: everything queued before it has finished
        return round((self._wall0 + time.perf_counter() - self._perf0) * 1e3, 3)


class TimedRun:
    """The training loop's observer: logs the timed region and stops the loop at the target."""

    def __init__(self, logger: MLPerfRunLogger, bench: Benchmark, clock: Clock, init_start_ms: float,
                 init_cap_s: float, max_steps: int, line: RunLine):
        self.lg, self.bench, self.clock, self.line = logger, bench, clock, line
        self.max_steps = max_steps
        self.init_start_ms, self.init_cap_s = init_start_ms, init_cap_s
        self.samples_per_step = bench.global_batch_size
        self.block_samples = bench.eval_every * bench.global_batch_size
        self.run_start_ms = self.run_stop_ms = None
        self.status: str | None = None
        self.init_s: float | None = None
        self.steps = 0
        self.value: float | None = None
        self.eval_ms = 0.0  # evaluation time inside the clock
        self._block, self._eval_t0 = 0, 0.0

    started = property(lambda self: self.run_start_ms is not None)
    stopped = property(lambda self: self.status is not None)

    # epoch_num in MLPerf metadata is the number of training samples seen (as BERT and llama log it)
    def run_start(self) -> None:
        t = self.clock.now_ms()
        self.lg.init_stop(time_ms=t)
        self.init_s = (t - self.init_start_ms) / 1e3
        if self.init_s > self.init_cap_s:
            self.lg.event("dlbench_init_over_cap", {"init_s": self.init_s, "cap_s": self.init_cap_s}, time_ms=t)
        self.lg.run_start(time_ms=t)
        self.lg.block_start(first_epoch_num=0, epoch_count=self.block_samples, time_ms=t)
        self.run_start_ms = t
        self.line.update(0, self.bench.quality.metric, None)

    def eval_start(self, step: int) -> None:
        t = self.clock.now_ms()
        self.lg.block_stop(first_epoch_num=self._block, time_ms=t)
        self.lg.eval_start(step * self.samples_per_step, time_ms=t)
        self._eval_t0 = t

    def eval_stop(self, step: int, metrics: dict) -> bool:
        q = self.bench.quality
        value = metrics.get(q.metric)
        if not isinstance(value, (int, float)):
            valid = ", ".join(k for k, v in metrics.items() if isinstance(v, (int, float)))
            raise UserError(f"the target names '{q.metric}', which this task does not log", f"valid metrics: {valid}")
        samples = step * self.samples_per_step
        t = self.clock.now_ms()
        self.lg.eval_accuracy(value * q.scale, samples, time_ms=t, metric=q.label or q.metric)
        self.lg.eval_stop(samples, time_ms=t)
        self.steps, self.value = step, float(value)
        self.eval_ms += t - self._eval_t0
        self.line.update(step, q.metric, float(value))
        if q.reached(value):
            self._stop("success", t)
            return True
        if step >= self.max_steps:  # the loop's last evaluation
            self._stop("aborted", t)
            return True
        self._block = samples
        self.lg.block_start(first_epoch_num=samples, epoch_count=self.block_samples, time_ms=t)
        return False

    @property
    def train_samples_per_s(self) -> float | None:
        """Throughput of the training steps alone: the clocked time minus the evaluations."""
        if self.run_stop_ms is None:
            return None
        train_ms = self.run_stop_ms - self.run_start_ms - self.eval_ms
        return self.steps * self.samples_per_step / (train_ms / 1e3) if train_ms > 0 and self.steps else None

    def _stop(self, status: str, t: float) -> None:
        self.lg.run_stop(status, time_ms=t)
        self.run_stop_ms, self.status = t, status

    def abort(self) -> None:
        """The loop ended without a final verdict (diverged, interrupted): the run did not converge."""
        if self.started and not self.stopped:
            self._stop("aborted", self.clock.now_ms())
