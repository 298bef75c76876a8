"""Batch iterators for training and evaluation.

Data that fits in memory lives on the training device and is indexed there (no worker processes, no
host-to-device copy per step). Larger data goes through a torch DataLoader with worker processes.
Both follow the same order: epoch e is a permutation drawn from a generator seeded with (seed, e),
so the position (epoch, index) is all a checkpoint needs to resume mid-epoch bit for bit, and, with
several ranks, each rank takes its slice of every global batch.
"""
from __future__ import annotations

import torch

from dlbench.data.bundle import Split


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


class TrainBatches:
    """Endless iterator of training batches; `position` / `start` make it resumable.

    global_batch: samples per optimizer step over all ranks; each rank yields global_batch // world of them.
    """

    def __init__(self, split: Split, global_batch: int, seed: int, device: torch.device,
                 rank: int = 0, world: int = 1, num_workers: int = 0, position: dict | None = None):
        self.split, self.seed, self.device, self.rank, self.world = split, seed, device, rank, world
        n = len(split)
        self.global_batch = min(global_batch, n)  # a tiny dataset still trains, on full-size batches
        # rank r takes [r*B//W, (r+1)*B//W) of each global batch; loss_weight makes DDP's mean over ranks
        # the mean over the global batch when shards differ by one sample (1.0 when W divides B)
        self.lo, self.hi = rank * self.global_batch // world, (rank + 1) * self.global_batch // world
        self.loss_weight = (self.hi - self.lo) * world / self.global_batch
        self.batches_per_epoch = n // self.global_batch  # drop the ragged tail: every step sees a full batch
        self.epoch = position["epoch"] if position else 0
        self.index = position["index"] if position else 0
        self.num_workers = num_workers
        if split.in_memory:
            self.x = split.x.to(device, non_blocking=True)
            self.y = split.y.to(device, non_blocking=True) if split.y is not None else None
        self._order: torch.Tensor | None = None
        self._loader_iter = None

    @property
    def position(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def _rank_slice(self, perm: torch.Tensor, i: int) -> torch.Tensor:
        start = i * self.global_batch
        return perm[start + self.lo:start + self.hi]

    def __iter__(self):
        return self

    def __next__(self):
        if self.index >= self.batches_per_epoch:
            self.epoch, self.index, self._order, self._loader_iter = self.epoch + 1, 0, None, None
        if self.split.in_memory:
            if self._order is None:
                self._order = epoch_permutation(len(self.split), self.seed, self.epoch).to(self.device)
            idx = self._rank_slice(self._order, self.index)
            self.index += 1
            return self.x[idx], (self.y[idx] if self.y is not None else None)
        if self._loader_iter is None:
            self._loader_iter = iter(self._make_loader())
        xb, yb = next(self._loader_iter)
        self.index += 1
        return xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)

    def _make_loader(self):
        perm = epoch_permutation(len(self.split), self.seed, self.epoch)
        batches = [self._rank_slice(perm, i).tolist() for i in range(self.index, self.batches_per_epoch)]
        return torch.utils.data.DataLoader(self.split.dataset, batch_sampler=batches, num_workers=self.num_workers,
                                           pin_memory=self.device.type == "cuda",
                                           persistent_workers=False)


def eval_batches(split: Split, batch_size: int, device: torch.device, num_workers: int = 0):
    """Batches in order, for evaluation and prediction."""
    if split.in_memory:
        for i in range(0, len(split), batch_size):
            yb = split.y[i:i + batch_size].to(device) if split.y is not None else None
            yield split.x[i:i + batch_size].to(device), yb
        return
    loader = torch.utils.data.DataLoader(split.dataset, batch_size=batch_size, num_workers=num_workers)
    for xb, yb in loader:
        yield xb.to(device), yb.to(device)
