"""What differs per task: the loss, the metrics (with their direction), and how outputs become predictions."""
from dlbench.tasks.language_model import LanguageModelTask
from dlbench.tasks.forecasting import ForecastTask
from dlbench.tasks.seq2seq import Seq2SeqTask
from dlbench.tasks.supervised import ClassificationTask, RegressionTask

TASKS = {t.name: t for t in (ClassificationTask, RegressionTask, Seq2SeqTask, LanguageModelTask, ForecastTask)}
"""DataSpec.task -> task class."""

__all__ = ["TASKS"]
