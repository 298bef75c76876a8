"""The live line of a benchmark run: run i/N, step, latest metric against the target, elapsed.

Refreshed only when the harness calls `update` (at run start and at each evaluation): a
refresh thread would compete with the training step for the CPU inside the timed region.

Not on a terminal (CI, Slurm, `> log`), each run writes plain lines instead of a bar: one when it starts,
one at its first evaluation and then at most one every DLBENCH_PROGRESS_SECONDS seconds (dlbench.progress),
and one with its outcome.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from dlbench.progress import Throttle, emit, fmt_duration, line_mode

console = Console(stderr=True)


class RunLine:
    def __init__(self, n_runs: int, target: str, enabled: bool = True, *, con: Console | None = None,
                 seconds: float | None = None):
        self.n_runs, self.target, self.enabled = n_runs, target, enabled
        self._con, self._seconds = con, seconds
        self._p: Progress | None = None
        self._task = None
        self._t0 = 0.0
        self._lines: Throttle | None = None
        self._run = ""
        self._total = self._step = 0
        self._shown = ""

    @property
    def console(self) -> Console:
        return self._con if self._con is not None else console

    def start(self, i: int, seed: int, total_steps: int) -> None:
        if not self.enabled:
            return
        self._t0 = time.perf_counter()
        self._run, self._total, self._step, self._shown = f"{i + 1}/{self.n_runs} (seed {seed})", total_steps, 0, ""
        if line_mode(self.console):
            self._lines = Throttle(self._seconds)
            emit(self.console, f"run {self._run}: started, at most {total_steps} steps, target {self.target}")
            return
        self._p = Progress(TextColumn("[bold]run {task.fields[run]}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                           TextColumn("{task.fields[info]}"), console=self.console, auto_refresh=False)
        self._p.start()
        self._task = self._p.add_task("", total=total_steps, run=self._run, info=f"target {self.target}")
        self._p.refresh()

    def update(self, step: int, metric: str, value: float | None) -> None:
        if self._p is None and self._lines is None:
            return
        if step == 0:  # run_start: from here "elapsed" is the time-to-train clock
            self._t0 = time.perf_counter()
        shown = "-" if value is None else f"{value:.4f}"
        self._step, self._shown = step, f"{metric} {shown} (target {self.target})"
        if self._lines is not None:
            if step > 0 and self._lines.due():
                self._print()
            return
        info = f"{self._shown}  {time.perf_counter() - self._t0:.1f} s"
        self._p.update(self._task, completed=step, info=info)
        self._p.refresh()

    def stop(self, outcome: str) -> None:
        if self._lines is not None:
            self._print(outcome)
            self._lines = None
            return
        if self._p is None:
            return
        task = self._p.tasks[0]
        self._p.update(self._task, info=f"{task.fields['info']}  {outcome}")
        self._p.refresh()
        self._p.stop()
        self._p = None

    def _print(self, outcome: str | None = None) -> None:
        elapsed = fmt_duration(time.perf_counter() - self._t0)
        where = f"step {self._step}/{self._total}" + (f"  {self._shown}" if self._shown else "")
        emit(self.console, f"run {self._run}: {where}  elapsed {elapsed}" + (f"  {outcome}" if outcome else ""))
        self._lines.mark()
