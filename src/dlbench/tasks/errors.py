"""Error analysis: the worst mistakes of a model on a split, as plain records (JSON-ready dicts).

Each task's `errors(model, split, n, device)` ranks the samples of a split and returns the worst n; this
module holds what the tasks share: how a sample is named, and how the ranking is described.

A sample is named by `Split.ids` (set by the data kind: "row 17" of a CSV file, counting data rows from 1
with the header not counted; "x[16]" of an NPZ file, 0-based; an image's path; "line 5" of a TSV file;
"number 342" of the built-in numbers) and, when the split keeps texts, by its text as well.
"""
from __future__ import annotations

import numpy as np

RANKED_BY = {
    "classification": "misclassified samples only, lowest probability given to the true class first "
                      "(p_true; confidence is the probability of the wrong prediction)",
    "regression": "largest absolute error first (error = predicted - true; with several outputs, "
                  "the mean absolute error over them)",
    "forecasting": "forecast windows with the largest mean absolute error over the horizon first, in the first "
                   "target's units (input: the series and the first forecast time)",
    "language_model": "windows of held-out text with the most bits per character first",
    "seq2seq": "sentences whose translation differs from the reference, lowest sentence-level chrF first "
               "(sacreBLEU sentence_chrf, 0-100)",
}
"""How each task ranks its mistakes (evaluate's `errors_ranked_by`)."""

POSITIVE = "label 1 (the second class name in the data's order) is the positive class"
"""Which class is positive in a binary confusion matrix."""


def input_name(split, i: int) -> str:
    """What the i-th sample of a split is called: its id, else its text, else its position in the split."""
    ids = getattr(split, "ids", None)
    if ids is not None:
        return str(ids[i])
    sources = getattr(split, "sources", None)
    if sources is not None:
        return str(sources[i])
    return f"sample {i} of the split"


def text_of(split, i: int, name: str) -> str | None:
    """The sample's text, when the split keeps texts and the text is not already its name."""
    sources = getattr(split, "sources", None)
    if sources is None or sources[i] == name:
        return None
    return str(sources[i])


def worst(scores: np.ndarray, candidates: np.ndarray, n: int, descending: bool = False) -> np.ndarray:
    """The n candidates with the lowest (or highest) scores, ties in split order."""
    s = scores[candidates]
    order = np.argsort(-s if descending else s, kind="stable")
    return candidates[order[:max(n, 0)]]


def binary_outcome(true: int, predicted: int) -> str:
    """TP, TN, FP or FN of one binary prediction, label 1 positive."""
    if predicted == 1:
        return "TP" if true == 1 else "FP"
    return "TN" if true == 0 else "FN"
