"""task name (from the data spec) -> task class."""
from __future__ import annotations

from dlbench.tasks.seq2seq import Seq2SeqTask
from dlbench.tasks.supervised import ClassificationTask, RegressionTask

TASKS = {"classification": ClassificationTask, "regression": RegressionTask, "seq2seq": Seq2SeqTask}


def build_task(spec, cfg):
    cls = TASKS[spec.task]
    if hasattr(cls, "from_config"):  # tasks with options beyond label smoothing read them from the config
        return cls.from_config(spec, cfg)
    return cls(spec, label_smoothing=cfg.train.label_smoothing)
