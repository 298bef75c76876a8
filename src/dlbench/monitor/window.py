"""The live side: the last N rows of features (a ring buffer), and each row's place against the training range."""
from __future__ import annotations

import numpy as np

from dlbench.monitor.profile import FeatureRef


class SlidingWindow:
    """The most recent `size` rows of a [rows, features] float64 stream; adding is one slice copy."""

    def __init__(self, features: int, size: int):
        self.size = int(size)
        self.buf = np.zeros((self.size, features))
        self.next = 0
        self.filled = 0
        self.total = 0
        """Rows ever added: a cache key for scores computed from the window."""

    def add(self, rows: np.ndarray) -> None:
        rows = rows[-self.size:]
        n = len(rows)
        end = self.next + n
        if end <= self.size:
            self.buf[self.next:end] = rows
        else:
            first = self.size - self.next
            self.buf[self.next:] = rows[:first]
            self.buf[:n - first] = rows[first:]
        self.next = end % self.size
        self.filled = min(self.size, self.filled + n)
        self.total += n

    def rows(self) -> np.ndarray:
        """The rows held (order does not matter to the drift statistics)."""
        return self.buf[:self.filled] if self.filled < self.size else self.buf


class Ranges:
    """Per feature, the training range and the far bounds: a value beyond [min - k*std, max + k*std] is far
    outside what the model was trained on (k = `far_std`); an unseen category is out of range, never far."""

    def __init__(self, refs: list[FeatureRef], far_std: float):
        self.names = [r.name for r in refs]
        numeric = np.array([r.kind == "numeric" for r in refs])
        big = np.inf
        self.lo = np.array([r.min if r.kind == "numeric" else -big for r in refs], dtype=np.float64)
        self.hi = np.array([r.max if r.kind == "numeric" else len(r.categories) - 0.5 for r in refs], dtype=np.float64)
        scale = np.array([r.scale for r in refs], dtype=np.float64)
        self.far_lo = np.where(numeric, self.lo - far_std * scale, -big)
        self.far_hi = np.where(numeric, self.hi + far_std * scale, big)

    def check(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(out of range [rows, features], far outside [rows, features]) as booleans."""
        out = (rows < self.lo) | (rows > self.hi)
        far = (rows < self.far_lo) | (rows > self.far_hi)
        return out, far

    def far(self, rows: np.ndarray) -> np.ndarray:
        """Far outside only [rows, features]: the per-request check, half the work of `check`."""
        return (rows < self.far_lo) | (rows > self.far_hi)

    def far_features(self, far: np.ndarray) -> list[str]:
        return [self.names[j] for j in np.flatnonzero(far.any(axis=0))]
