"""task name (from the data spec) -> task class."""
from __future__ import annotations

from dlbench.tasks.supervised import ClassificationTask, RegressionTask

TASKS = {"classification": ClassificationTask, "regression": RegressionTask}


def build_task(spec, cfg):
    return TASKS[spec.task](spec, label_smoothing=cfg.train.label_smoothing)
