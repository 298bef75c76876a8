"""Deterministic train/validation/test split, stratified by class for classification."""
from __future__ import annotations

import numpy as np

from dlbench.errors import UserError


def split_indices(n: int, y: np.ndarray | None, fractions: tuple[float, float], seed: int,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (train, val, test) index arrays; `fractions` = (val, test), each of the whole set.

    Stratified: every class is split in the same proportions (rounded per class), so a rare class
    lands in every split it can. Same inputs -> same split, on any machine (numpy's PCG64).
    """
    val_f, test_f = fractions
    if val_f + test_f >= 1:
        raise UserError(f"val_fraction + test_fraction = {val_f + test_f:.2f} leaves no training data",
                        "make their sum < 1")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if not stratify or y is None else [np.flatnonzero(y == c) for c in np.unique(y)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for g in groups:
        g = rng.permutation(g)
        n_test = int(round(len(g) * test_f))
        n_val = int(round(len(g) * val_f))
        parts[2].append(g[:n_test])
        parts[1].append(g[n_test:n_test + n_val])
        parts[0].append(g[n_test + n_val:])
    # shuffle across classes too, so a prefix of any split is a fair sample of it
    return tuple(rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts)  # type: ignore[return-value]
