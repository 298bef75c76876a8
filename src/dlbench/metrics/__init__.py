"""Metrics as pure functions of numpy arrays."""
from dlbench.metrics.classification import classification_metrics
from dlbench.metrics.regression import regression_metrics

__all__ = ["classification_metrics", "regression_metrics"]
