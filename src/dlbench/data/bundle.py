"""What every dataset kind produces: three splits and a spec the models are built from."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from dlbench.errors import UserError


@dataclass
class DataSpec:
    task: str
    """classification | regression | seq2seq | generation"""
    input_shape: tuple[int, ...]
    """Shape of one input sample, e.g. (1, 40) for MNIST-1D, (1, 8, 8) for digits, (10,) for tables."""
    num_classes: int | None = None
    class_names: list[str] | None = None
    target_dim: int = 1
    """Regression outputs per sample."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Kind-specific facts: vocabulary sizes, target standardization, feature names."""

    def to_json(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DataSpec":
        d = dict(d)
        d["input_shape"] = tuple(d["input_shape"])
        return cls(**d)


@dataclass
class Split:
    """One split. In memory: tensors `x`, `y`. Too big for memory: a torch Dataset of (x, y)."""
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None
    dataset: torch.utils.data.Dataset | None = None
    ids: list[str] | None = None
    """Where each sample came from, in the data's own terms (error analysis names inputs by it):
    "row 17" of a CSV file (the 17th data row, 1-based, the header not counted), "x[16]" of an NPZ file
    (0-based, as numpy indexes it), an image's path, "line 5" of a TSV file, "digits[3]" of a built-in set."""

    def __len__(self) -> int:
        return len(self.dataset) if self.dataset is not None else int(self.x.shape[0])

    @property
    def in_memory(self) -> bool:
        return self.dataset is None

    def subset(self, n: int) -> "Split":
        """The first n samples (splits are already shuffled), for cheap train-set evaluation."""
        ids = None if self.ids is None else self.ids[:n]
        if self.in_memory:
            return Split(self.x[:n], None if self.y is None else self.y[:n], ids=ids)
        return Split(dataset=torch.utils.data.Subset(self.dataset, range(min(n, len(self)))), ids=ids)


class SealedSplit:
    """The test split: training code cannot read it; `DataBundle.open_test()` unseals it, once per purpose."""

    def __init__(self, split: Split):
        self._split = split

    def __len__(self) -> int:
        return len(self._split)


@dataclass
class DataBundle:
    train: Split
    val: Split
    test: SealedSplit
    spec: DataSpec
    preprocessing: dict
    """JSON: how raw inputs become model inputs (stored in model.json, replayed by predict/serve)."""
    test_opened: list[str] = field(default_factory=list)

    def open_test(self, purpose: str) -> Split:
        """Unseal the test split; `purpose` is recorded so a run can show the test set was used once."""
        self.test_opened.append(purpose)
        return self.test._split


def check_nonempty(name: str, splits: dict[str, int], hint: str) -> None:
    for split, n in splits.items():
        if n == 0:
            raise UserError(f"data '{name}': the {split} split is empty after splitting", hint)
