"""Rich progress bars for long jobs: step, loss, latest validation metric, samples/s."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


class TrainProgress:
    def __init__(self, description: str = "train"):
        self.description = description
        self.fields: dict[str, float] = {}
        self._p: Progress | None = None
        self._task = None

    def start(self, total: int, done: int = 0) -> None:
        self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                           console=console, transient=False, auto_refresh=False)
        self._p.start()
        self._task = self._p.add_task(self.description, total=total, completed=done, info="")

    def update(self, step: int, fields: dict) -> None:
        self.fields.update({k: v for k, v in fields.items() if v is not None})
        info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.fields.items())
        if self._p is not None:
            # refreshed only here (every log/eval interval): a refresh thread would compete with the step
            self._p.update(self._task, completed=step, info=info)
            self._p.refresh()

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None
