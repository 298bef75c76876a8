"""TensorBoard: event files in RUN/tensorboard/ (`tensorboard --logdir runs/`), through torch's SummaryWriter."""
from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from dlbench.tracking import flat, scalars


class TensorBoardTracker:
    name = "TensorBoard"

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.writer = SummaryWriter(log_dir=str(logdir))

    def start(self, config: dict) -> None:
        params = flat(config)
        rows = "\n".join(f"| {k} | {v} |" for k, v in params.items())
        self.writer.add_text("config", "| key | value |\n|---|---|\n" + rows, 0)

    def log(self, record: dict) -> None:
        step = int(record.get("step", 0))
        for key, value in scalars(record).items():
            self.writer.add_scalar(key, value, step)

    def finish(self, run_path: Path, result: dict | None) -> None:
        for split in ("val", "test"):
            for key, value in scalars((result or {}).get(split) or {}, f"final/{split}.").items():
                self.writer.add_scalar(key, value, 0)
        self.writer.close()
