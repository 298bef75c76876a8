"""Progress of long jobs: a rich bar on a terminal, plain lines in a log.

On a terminal (`Console.is_terminal`: stderr is a TTY, or FORCE_TERMINAL is set) the job shows a live bar.
Anywhere else (CI, Slurm, `dlbench train ... > log 2>&1`) a bar would print nothing useful, so the job writes
one plain line at its first report, then at most one every DLBENCH_PROGRESS_SECONDS seconds (default 30;
0 writes every report), and one at its end, as Keras does with `verbose=2`:

    train step 50/2000 (2%)  loss 0.4123  val.accuracy 0.9500  1,234 samples/s  elapsed 0:03  ETA 2:10

`Throttle`, `line_mode` and `fmt_duration` are shared with the benchmark's run line (bench/live.py) and the
tuning progress (cli/tune.py).
"""
from __future__ import annotations

import logging
import math
import os
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)

ENV_SECONDS = "DLBENCH_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0

log = logging.getLogger(__name__)


def line_seconds() -> float:
    """Seconds between progress lines in line mode: $DLBENCH_PROGRESS_SECONDS, else 30."""
    raw = os.environ.get(ENV_SECONDS, "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        log.warning("%s=%r is not a number of seconds >= 0; using %g", ENV_SECONDS, raw, DEFAULT_SECONDS)
        return DEFAULT_SECONDS
    return value


def line_mode(con: Console) -> bool:
    """True when `con` does not write to a terminal: print plain lines instead of a live bar."""
    return not con.is_terminal


def emit(con: Console, text: str) -> None:
    """One plain line: no markup, no highlighting, never wrapped (a log line stays one grep-able line)."""
    con.print(text, markup=False, highlight=False, soft_wrap=True)


def fmt_duration(seconds: float | None) -> str:
    """0:07, 12:05, 1:02:03 (as a clock); '-' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class Throttle:
    """Says when a line is due: the first time, then once `seconds` have passed since the last line."""

    def __init__(self, seconds: float | None = None, clock=time.monotonic):
        self.seconds = line_seconds() if seconds is None else seconds
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        return self._last is None or self.clock() - self._last >= self.seconds

    def mark(self) -> None:
        self._last = self.clock()


class TrainProgress:
    """start(total, done) / update(step, fields) / stop(), as `training.loop.fit` calls it.

    `fields` accumulate: the loop reports {"loss", "samples/s"} at each log step and {metric: value} at
    each evaluation, and every line shows the latest of each."""

    def __init__(self, description: str = "train", *, con: Console | None = None, seconds: float | None = None,
                 clock=time.monotonic):
        self.description = description
        self.fields: dict[str, float] = {}
        self._con = con
        self._seconds, self._clock = seconds, clock
        self._p: Progress | None = None
        self._task = None
        self._lines: Throttle | None = None
        self._total = self._done0 = self._step = 0
        self._t0 = 0.0
        self._printed_step: int | None = None
        self._printed: tuple | None = None

    @property
    def console(self) -> Console:
        return self._con if self._con is not None else console

    @property
    def lines(self) -> bool:
        """Line mode (not a terminal) rather than a bar."""
        return self._lines is not None

    def start(self, total: int, done: int = 0) -> None:
        self._total, self._done0, self._step = total, done, done
        self._t0 = self._clock()
        self._printed_step = self._printed = None
        if line_mode(self.console):
            self._lines = Throttle(self._seconds, self._clock)
            every = self._lines.seconds
            cadence = "every report" if every == 0 else f"every {every:g} s"
            emit(self.console, f"{self.description}: {total - done} steps to go ({done}/{total} done); "
                               f"a progress line {cadence} (set {ENV_SECONDS} to change)")
            return
        self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                           console=self.console, transient=False, auto_refresh=False)
        self._p.start()
        self._task = self._p.add_task(self.description, total=total, completed=done, info="")

    def update(self, step: int, fields: dict) -> None:
        self.fields.update({k: v for k, v in fields.items() if v is not None})
        self._step = step
        if self._lines is not None:
            # one line per step at most (a log and an evaluation often report the same step), and the last
            # step's line waits for stop(), so that it holds the final evaluation
            if step != self._printed_step and step < self._total and self._lines.due():
                self._print()
            return
        if self._p is not None:
            # refreshed only here (every log/eval interval): a refresh thread would compete with the step
            self._p.update(self._task, completed=step, info=self._info())
            self._p.refresh()

    def stop(self) -> None:
        if self._lines is not None:
            if self._step > self._done0 and self._printed != self._snapshot():
                self._print(final=True)  # the last step always has its line, with the final evaluation
            self._lines = None
        if self._p is not None:
            self._p.stop()
            self._p = None

    # ---- line mode ------------------------------------------------------------------------------------

    def _info(self) -> str:
        return "  ".join(f"{k} {fmt_value(v)}" for k, v in self.fields.items())

    def _snapshot(self) -> tuple:
        return self._step, tuple(self.fields.items())

    def line(self, final: bool = False) -> str:
        """The progress line for the current state (step, fields, samples/s, elapsed, and ETA unless final)."""
        elapsed = self._clock() - self._t0
        done = self._step - self._done0
        eta = elapsed / done * (self._total - self._step) if done > 0 else None
        pct = 100 * self._step / self._total if self._total else 100.0
        parts = [f"{self.description} step {self._step}/{self._total} ({pct:.0f}%)"]
        parts += [f"{k} {fmt_value(v)}" for k, v in self.fields.items() if k != "samples/s"]
        if "samples/s" in self.fields:
            parts.append(f"{self.fields['samples/s']:,.0f} samples/s")
        parts.append(f"elapsed {fmt_duration(elapsed)}")
        if not final:
            parts.append(f"ETA {fmt_duration(eta)}")
        return "  ".join(parts)

    def _print(self, final: bool = False) -> None:
        emit(self.console, self.line(final))
        self._printed_step, self._printed = self._step, self._snapshot()
        self._lines.mark()
