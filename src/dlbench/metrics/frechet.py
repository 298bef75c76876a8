"""Fréchet distance between two sample sets, and a diversity measure, as pure numpy functions.

The Fréchet (2-Wasserstein) distance between Gaussians N(mu1, S1) and N(mu2, S2) is

    |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)

It is the formula behind FID; what makes a number "FID" is the Inception-v3 feature space. dlbench
computes it in the feature space of a classifier it trained on the same data, so it calls the number
a *classifier Fréchet distance*: comparable between runs that share that classifier, not across papers.

The trace of the matrix square root is computed from symmetric eigendecompositions (scipy.linalg.eigh):
S1^1/2 S2 S1^1/2 is symmetric positive semi-definite, so its square root's trace is the sum of the
square roots of its eigenvalues. Unlike `sqrtm(S1 @ S2)` this never produces complex parts or
fails on the singular covariances that small sample sets give.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import eigh


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """features [N, D] -> (mean [D], covariance [D, D]), in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least two feature vectors of shape [N, D], got {list(f.shape)}")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # negative eigenvalues are rounding noise


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2); >= 0 up to rounding."""
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    m = (m + m.T) / 2  # symmetric in exact arithmetic; make it so in floating point
    tr_sqrt = np.sqrt(np.clip(eigh(m, eigvals_only=True), 0.0, None)).sum()
    d = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)
    return max(d, 0.0)


def frechet_distance_of(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to feature sets a [N, D] and b [M, D]."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def mean_pairwise_distance(x: np.ndarray, max_samples: int = 500, seed: int = 0) -> float:
    """Mean Euclidean distance between distinct pairs of rows of x [N, ...] (a random subset of rows
    when N > max_samples). Generated sets much tighter than real ones are the signature of mode collapse."""
    f = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if len(f) > max_samples:
        f = f[np.random.default_rng(seed).choice(len(f), max_samples, replace=False)]
    if len(f) < 2:
        return 0.0
    sq = (f * f).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0, None)  # [n, n] squared distances
    n = len(f)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())
