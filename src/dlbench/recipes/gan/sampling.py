"""Sampling a trained generator: what `generate`, the server and the report ask a GAN run for."""
from __future__ import annotations

import torch

from dlbench.errors import UserError


class Generator:
    """A loaded GAN's sampling side (`LoadedRun.task` of a GAN run)."""

    def __init__(self, gan, spec, path):
        self.gan, self.spec, self.path = gan, spec, path

    @property
    def conditional(self) -> bool:
        return bool(self.gan.conditional)

    @property
    def class_names(self) -> list[str]:
        return self.spec.class_names or [str(i) for i in range(self.spec.num_classes or 0)]

    def label_index(self, label: str) -> int:
        """A class name (or its index) -> the class index; UserError for a label the model does not know."""
        names = self.class_names
        if not self.conditional:
            raise UserError(f"{self.path}: this generator is unconditional; it cannot generate label '{label}'",
                            "drop --label, or train with model.conditional: true")
        if label in names:
            return names.index(label)
        if label.isdigit() and int(label) < len(names):
            return int(label)
        raise UserError(f"unknown label '{label}'", f"this generator knows {', '.join(names)}")

    def sample(self, n: int, labels=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n samples (model units, on the CPU) and their labels: `labels` (an index or one per sample),
        or every class in turn when None."""
        if n < 1:
            raise UserError(f"--n must be at least 1 (got {n})")
        y = None
        if self.conditional:
            if labels is None:
                y = torch.arange(n) % self.gan.num_classes
            elif isinstance(labels, int):
                y = torch.full((n,), labels)
            else:
                y = torch.as_tensor(labels)
        return self.gan.sample(n, y, generator=torch.Generator().manual_seed(seed)).cpu(), y
