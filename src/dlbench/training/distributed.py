"""The distributed context of one training process (one rank), on torch.distributed + DDP.

A worker started by torchrun (`dlbench.launch.worker`) reads RANK / LOCAL_RANK / WORLD_SIZE /
GROUP_RANK / MASTER_ADDR / MASTER_PORT from the environment, joins the process group (NCCL on GPUs,
gloo on CPU) and hands a `DistContext` to `api.train` and `training.loop.fit`, which use only:
rank, world, is_main, device, all_reduce_mean, any_true, barrier, wrap, check_same_config.

Batch semantics (see docs/distributed.md): `train.batch_size` is the GLOBAL batch of one optimizer
step. Rank r takes samples [r*B//W, (r+1)*B//W) of every global batch (data/loaders.py), so shards
differ by at most one sample when W does not divide B; the loop multiplies each rank's mean loss by
`TrainBatches.loss_weight` so that DDP's gradient average is the gradient of the mean over all B.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as tdist

from dlbench.errors import UserError

log = logging.getLogger(__name__)

FAULT_ENV = "DLBENCH_TEST_FAULT"
"""Tests only: "kill:RANK:STEP" or "hang:RANK:STEP" makes that rank die or sleep at that training step."""


# --- batch and learning-rate rules (pure functions, also used without a process group) ----------

def check_world(global_batch: int, world: int) -> None:
    if world > global_batch:
        raise UserError(f"train.batch_size {global_batch} is the global batch: it cannot be split over {world} "
                        "processes (each needs at least one sample)",
                        f"raise train.batch_size to at least {world} or use fewer processes")


def effective_lr(train_cfg, base_lr: float) -> float:
    """optim.lr after train.lr_scaling: linear (Goyal et al. 2017) or sqrt (Krizhevsky 2014; Adam-style)
    in the ratio of the global batch to train.reference_batch_size (the batch optim.lr was tuned at)."""
    rule = getattr(train_cfg, "lr_scaling", "none")
    if rule == "none":
        return base_lr
    ratio = train_cfg.batch_size / train_cfg.reference_batch_size
    return base_lr * (ratio if rule == "linear" else math.sqrt(ratio))


def config_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the context ------------------------------------------------------------------------------

@dataclass
class DistContext:
    rank: int
    world: int
    local_rank: int
    node_rank: int
    device: torch.device
    timeout_s: float
    store: object | None = field(default=None, repr=False)
    """A PrefixStore over torchrun's c10d store: failure reports and host names, outside the collectives."""
    sync_batchnorm: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def backend(self) -> str:
        return tdist.get_backend()

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        t = tensor.detach().clone()
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
        return t / self.world

    def any_true(self, flag: bool) -> bool:
        """True on every rank when it is True on any (stop signals, early stopping): ranks must agree
        on when to leave the loop, or the ones still training wait in a collective forever."""
        t = torch.tensor([1 if flag else 0], device=self.device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return bool(t.item())

    def from_main(self, value, choices: tuple):
        """Rank 0's value (one of `choices`) on every rank: decisions that end the loop must agree."""
        t = torch.tensor([choices.index(value)], device=self.device)
        tdist.broadcast(t, src=0)
        return choices[int(t.item())]

    def barrier(self) -> None:
        if self.backend == "gloo":
            # monitored_barrier names the ranks that did not arrive, instead of a bare timeout
            tdist.monitored_barrier(timeout=timedelta(seconds=self.timeout_s), wait_all_ranks=True)
        elif self.device.type == "cuda":
            tdist.barrier(device_ids=[self.device.index])
        else:
            tdist.barrier()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP around the model (parameters are broadcast from rank 0 at construction)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        if self.sync_batchnorm:
            if self.device.type != "cuda":
                raise UserError("train.sync_batchnorm needs GPUs (torch's SyncBatchNorm has no CPU kernel)",
                                "set train.sync_batchnorm=false on CPU, or use a model without batch norm")
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DDP(model, device_ids=ids, output_device=ids[0] if ids else None)
        _install_fault(wrapped, self.rank)
        return wrapped

    def check_same_config(self, resolved_yaml: str) -> None:
        """Every rank must train the same resolved config; name the ranks (and hosts) that differ."""
        digest = config_digest(resolved_yaml)
        mine = torch.tensor([int(digest[:15], 16), self.node_rank], dtype=torch.int64, device=self.device)
        gathered = [torch.zeros_like(mine) for _ in range(self.world)]
        tdist.all_gather(gathered, mine)
        values = [(int(g[0]), int(g[1])) for g in gathered]
        ref = values[0][0]
        bad = [r for r, (h, _) in enumerate(values) if h != ref]
        if not bad:
            return
        hosts = self._hosts()
        where = ", ".join(f"rank {r} (node {values[r][1]}{', ' + hosts[r] if hosts.get(r) else ''})" for r in bad[:8])
        raise UserError(f"the resolved config differs across nodes: {where} "
                        f"{'has' if len(bad) == 1 else 'have'} config sha256 {values[bad[0]][0]:015x}..., "
                        f"rank 0 (node {values[0][1]}) has {ref:015x}...",
                        "launch every node with the same config file and the same -o overrides")

    def _hosts(self) -> dict[int, str]:
        if self.store is None:
            return {}
        try:
            keys = {r: f"host/{r}" for r in range(self.world)}
            return {r: self.store.get(k).decode() for r, k in keys.items() if self.store.check([k])}
        except Exception:  # names are a nicety; the error must still be raised
            return {}

    def missing_ranks(self, what: str, wait_s: float = 3.0) -> list[int] | None:
        """After a failed collective: report through the store and return the ranks that did not.

        Healthy ranks all fail the same collective within moments of each other (the same timeout,
        or the same closed connection), so after `wait_s` the silent ranks are the hung or dead ones.
        None when the store itself is unreachable.
        """
        if self.store is None:
            return None
        try:
            self.store.set(f"failed/{self.rank}", what)
            deadline = time.monotonic() + wait_s
            while True:
                missing = [r for r in range(self.world) if not self.store.check([f"failed/{r}"])]
                if not missing or time.monotonic() > deadline:
                    return missing
                time.sleep(0.1)
        except Exception:
            return None

    def close(self) -> None:
        if tdist.is_initialized():
            tdist.destroy_process_group()


def init_from_env(timeout_s: float, device_name: str = "auto", sync_batchnorm: bool = False) -> DistContext:
    """Join the process group described by torchrun's environment variables."""
    env = os.environ
    try:
        rank, world, local_rank = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"])
    except KeyError as e:
        raise UserError(f"{e.args[0]} is not set: dlbench.launch.worker runs under torchrun",
                        "start it with `dlbench train --nproc-per-node N` or `torchrun -m dlbench.launch.worker`") from None
    node_rank = int(env.get("GROUP_RANK", env.get("NODE_RANK", "0")))
    use_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}",
                            "use --nproc-per-node <= the number of GPUs")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    timeout = timedelta(seconds=timeout_s)
    # env:// gives the store torchrun's agent hosts (TORCHELASTIC_USE_AGENT_STORE); we keep a handle on
    # it so failure reports travel even when a collective is stuck.
    store, rank, world = next(tdist.rendezvous("env://", rank=rank, world_size=world, timeout=timeout))
    tdist.init_process_group("nccl" if use_cuda else "gloo", store=store, rank=rank, world_size=world,
                             timeout=timeout)
    mine = tdist.PrefixStore("dlbench/", store)
    try:
        mine.set(f"host/{rank}", socket.gethostname())
    except Exception:
        pass
    return DistContext(rank, world, local_rank, node_rank, device, timeout_s, mine, sync_batchnorm)


def _install_fault(model: torch.nn.Module, rank: int) -> None:
    """Tests only: kill or hang this rank at a training step, to exercise failure handling end to end."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    mode, fault_rank, fault_step = spec.split(":")
    if int(fault_rank) != rank:
        return
    calls = {"n": 0}

    def hook(module, _inputs):
        if not module.training:
            return
        calls["n"] += 1
        if calls["n"] == int(fault_step):
            if mode == "kill":
                os.kill(os.getpid(), 9)
            time.sleep(3600)

    model.register_forward_pre_hook(hook)
