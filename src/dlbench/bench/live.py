"""The live line of a benchmark run: run i/N, step, latest metric against the target, elapsed.

Refreshed only when the harness calls `update` (at run start and at each evaluation): a
refresh thread would compete with the training step for the CPU inside the timed region.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

console = Console(stderr=True)


class RunLine:
    def __init__(self, n_runs: int, target: str, enabled: bool = True):
        self.n_runs, self.target, self.enabled = n_runs, target, enabled
        self._p: Progress | None = None
        self._task = None
        self._t0 = 0.0

    def start(self, i: int, seed: int, total_steps: int) -> None:
        if not self.enabled:
            return
        self._t0 = time.perf_counter()
        self._p = Progress(TextColumn("[bold]run {task.fields[run]}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                           TextColumn("{task.fields[info]}"), console=console, auto_refresh=False)
        self._p.start()
        self._task = self._p.add_task("", total=total_steps, run=f"{i + 1}/{self.n_runs} (seed {seed})",
                                      info=f"target {self.target}")
        self._p.refresh()

    def update(self, step: int, metric: str, value: float | None) -> None:
        if self._p is None:
            return
        if step == 0:  # run_start: from here "elapsed" is the time-to-train clock
            self._t0 = time.perf_counter()
        shown = "-" if value is None else f"{value:.4f}"
        info = f"{metric} {shown} (target {self.target})  {time.perf_counter() - self._t0:.1f} s"
        self._p.update(self._task, completed=step, info=info)
        self._p.refresh()

    def stop(self, outcome: str) -> None:
        if self._p is None:
            return
        task = self._p.tasks[0]
        self._p.update(self._task, info=f"{task.fields['info']}  {outcome}")
        self._p.refresh()
        self._p.stop()
        self._p = None
