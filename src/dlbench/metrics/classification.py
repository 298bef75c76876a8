"""Accuracy, confusion matrix, per-class precision / recall / F1 and macro-F1 (via scikit-learn)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int,
                           class_names: list[str] | None = None, detailed: bool = True) -> dict:
    labels = list(range(num_classes))
    p, r, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {"accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
           "macro_f1": float(np.mean(f1))}
    if detailed:
        names = class_names or [str(i) for i in labels]
        out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
        out["per_class"] = {names[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f1[i]),
                                       "support": int(support[i])} for i in labels}
        if num_classes == 2:
            out["binary"] = binary_counts(out["confusion_matrix"], names)
    return out


def binary_counts(cm: list[list[int]], names: list[str]) -> dict:
    """The cells of a 2x2 confusion matrix (rows true, columns predicted) by name. Label 1 (the second
    class name) is the positive class: for a CSV target the classes are sorted, so 0 < 1, False < True
    and no < yes make the second one positive."""
    return {"positive": names[1], "negative": names[0], "positive_is": "label 1 (the second class name)",
            "tp": int(cm[1][1]), "fn": int(cm[1][0]), "fp": int(cm[0][1]), "tn": int(cm[0][0])}
