"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically and verified on load.

A checkpoint is `step-N.safetensors` (model, optimizer tensors, RNG states) plus `step-N.json`
(optimizer scalars, scheduler, data position, loop state, the sha256 of the .safetensors file, and
`record_sha256` over the record itself). The JSON is written last and is the commit record: a checkpoint
without it, whose record is not what it was written as (not an object, edited, no RNG state), or whose
tensors file does not hash to what it says, was interrupted or corrupted, and is skipped with a warning;
the newest intact one is resumed from.
"""
from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

import numpy as np
import torch

from dlbench.errors import UserError
from dlbench.run.files import atomic_save_tensors, atomic_write_json, canonical_sha256, load_verified_tensors

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
    meta["record_sha256"] = canonical_sha256(meta)
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
    records = list_checkpoints(ckpt_dir)
    for record in records:
        try:
            meta = read_record(record)
            tensors = load_verified_tensors(record.with_suffix(".safetensors"), meta["sha256"])
            check_rng_state(tensors, meta["rng"])
            return tensors, meta
        except (ValueError, KeyError, TypeError, IndexError, OSError, UnicodeDecodeError, RecursionError) as e:
            log.warning("skipping checkpoint %s: %s", record.name, str(e)[:300])
    if records:
        log.warning("no intact checkpoint in %s: training starts again from step 0", ckpt_dir)
    return None


def read_record(record: Path) -> dict:
    """A checkpoint's JSON record, checked: an object, its own sha256 (when it has one, as every record
    this version writes does), the step of its name, the sha256 of its tensors, an RNG state and a loop state."""
    meta = json.loads(record.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"the record is {type(meta).__name__}, not a JSON object")
    recorded = meta.get("record_sha256")
    if recorded is not None and recorded != canonical_sha256({k: v for k, v in meta.items() if k != "record_sha256"}):
        raise ValueError("the record does not match its record_sha256 (edited or corrupted)")
    step = int(STEP_RE.match(record.name).group(1))
    if meta.get("step") != step:
        raise ValueError(f"the record says step {meta.get('step')!r}, its name step {step}")
    for key, kind in (("sha256", str), ("rng", dict), ("state", dict)):
        if not isinstance(meta.get(key), kind):
            raise ValueError(f"the record has no {key}" if key not in meta else f"its {key} is not a {kind.__name__}")
    if meta["state"].get("step") != step:
        raise ValueError("its loop state is not the one of its step")
    for key in ("optimizer", "scheduler"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise ValueError(f"its {key} state is not a JSON object")
    return meta


def check_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Raise ValueError unless the RNG states would restore (tried on fresh generators, not the global ones)."""
    if "rng.torch" not in tensors:
        raise ValueError("its tensors hold no torch RNG state")
    try:
        torch.Generator().set_state(tensors["rng.torch"])
        random.Random().setstate(_tupled(meta["python"]))
        n = meta["numpy"]
        np.random.RandomState().set_state((n[0], np.asarray(n[1], dtype=np.uint32), *n[2:]))
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise ValueError(f"its RNG state does not restore ({type(e).__name__}: {str(e)[:200]})") from None


def restore_checkpoint(tensors, meta, model, optimizer, scheduler) -> dict:
    """Load a checkpoint from `load_latest_checkpoint` into the model, optimizer, scheduler and RNGs;
    returns the loop state. A checkpoint that does not fit them (another architecture) is refused."""
    try:
        model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
        if optimizer is not None and meta.get("optimizer"):
            load_optimizer_state(optimizer, tensors, meta["optimizer"])
        if scheduler is not None and meta.get("scheduler"):
            scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(scheduler.lr_lambdas)})
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
        raise UserError(f"checkpoint step-{meta.get('step')} does not fit this run's model or optimizer "
                        f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})",
                        "resume with the run's own config, or move the checkpoints away to start over") from None
    set_rng_state(tensors, meta["rng"])
    return meta["state"]
