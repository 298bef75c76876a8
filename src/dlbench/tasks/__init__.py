"""What differs per task: the loss, the metrics, and how outputs become predictions."""
from dlbench.tasks.registry import build_task

__all__ = ["build_task"]
