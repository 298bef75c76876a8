"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically and verified on load.

A checkpoint is `step-N.safetensors` (model, optimizer tensors, RNG states) plus `step-N.json`
(optimizer scalars, scheduler, data position, loop state, the sha256 of the .safetensors file).
The JSON is written last and is the commit record: a checkpoint without it, or whose tensors file
does not hash to what it says, was interrupted or corrupted, and is skipped with a warning.
"""
from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

import numpy as np
import torch

from dlbench.run.files import atomic_save_tensors, atomic_write_json, load_verified_tensors

log = logging.getLogger(__name__)
STEP_RE = re.compile(r"^step-(\d+)\.json$")


# --- what a training checkpoint holds ---------------------------------------------------------

def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    meta = {"python": _jsonable(random.getstate()),
            "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda][:torch.cuda.device_count()])
    random.setstate(_tupled(meta["python"]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), *n[2:]))


def _jsonable(x):
    return [_jsonable(i) for i in x] if isinstance(x, (tuple, list)) else x


def _tupled(x):
    return tuple(_tupled(i) for i in x) if isinstance(x, list) else x


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("optim."):
            _, pid, k = key.split(".", 2)
            state.setdefault(int(pid), {})[k] = v
    for pid, st in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(ckpt_dir: Path, step: int, model: torch.nn.Module, optimizer, scheduler,
                    state: dict, keep: int, extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Everything needed to continue bit-identically: weights, optimizer, scheduler, RNG, `state`."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_t, opt_meta = optimizer_state(optimizer) if optimizer is not None else ({}, None)
    rng_t, rng_meta = rng_state()
    tensors.update(opt_t)
    tensors.update(rng_t)
    tensors.update(extra_tensors or {})
    digest = atomic_save_tensors(ckpt_dir / f"step-{step}.safetensors", tensors)
    sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"} if scheduler is not None else None
    meta = {"step": step, "sha256": digest, "optimizer": opt_meta, "scheduler": sched, "rng": rng_meta, "state": state}
    path = ckpt_dir / f"step-{step}.json"
    atomic_write_json(path, meta)
    for old in list_checkpoints(ckpt_dir)[keep:]:
        for f in (old, old.with_suffix(".safetensors")):
            f.unlink(missing_ok=True)
    return path


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Checkpoint records, newest first."""
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := STEP_RE.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def load_latest_checkpoint(ckpt_dir: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """The newest checkpoint that is complete and intact; broken ones are skipped with a warning."""
    for record in list_checkpoints(ckpt_dir):
        try:
            meta = json.loads(record.read_text())
            tensors = load_verified_tensors(record.with_suffix(".safetensors"), meta["sha256"])
            return tensors, meta
        except (ValueError, KeyError, OSError, json.JSONDecodeError) as e:
            log.warning("skipping checkpoint %s: %s", record.name, e)
    return None


def restore_checkpoint(tensors, meta, model, optimizer, scheduler) -> dict:
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    if optimizer is not None and meta.get("optimizer"):
        load_optimizer_state(optimizer, tensors, meta["optimizer"])
    if scheduler is not None and meta.get("scheduler"):
        scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(scheduler.lr_lambdas)})
    set_rng_state(tensors, meta["rng"])
    return meta["state"]
