"""Building data for a model that already exists: its classes, task and (optionally) its preprocessing.

A finished run's model expects inputs in the units of its stored preprocessing and answers with the
class indices of its own class list. Data built for it (`dlbench evaluate RUN --data new.csv`,
`dlbench compare`, `train --init-from RUN`) must follow both, whatever the new file holds: the builders
ask this module, inside `replaying(...)`, instead of fitting and inferring.

    with replaying(spec_json, preprocessing_json, whole=True):
        bundle = build_data(cfg)       # every row in each split, the stored preprocessing, the stored classes

Outside `replaying` every function here returns what the builder found or fitted, unchanged.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

from dlbench.errors import UserError


@dataclass(frozen=True)
class Replay:
    spec: dict
    """The model's DataSpec as JSON (model.json "spec")."""
    preprocessing: dict | None
    """The stored preprocessing to apply; None: fit it on the new data (train --init-from ... refit)."""
    whole: bool
    """Every row in every split (evaluating a whole file), no train/val/test split."""
    asked: set = field(default_factory=set)
    """What the builder asked for ("preprocessing", "whole"): a kind that never asks cannot be built for a model."""


_ACTIVE: ContextVar[Replay | None] = ContextVar("dlbench_data_replay", default=None)


@contextmanager
def replaying(spec: dict, preprocessing: dict | None = None, whole: bool = False, kind: str = "this"):
    """Build data for a finished model; `kind` names the data kind for the error when its builder cannot."""
    r = Replay(dict(spec), preprocessing, whole)
    token = _ACTIVE.set(r)
    try:
        yield r
    finally:
        _ACTIVE.reset(token)
    missing = [w for w, wanted in (("preprocessing", preprocessing is not None), ("whole", whole))
               if wanted and w not in r.asked]
    if missing:
        raise UserError(f"{kind} data cannot yet be built with a finished model's "
                        f"{'preprocessing' if 'preprocessing' in missing else 'rows kept whole'}",
                        "evaluate --data, compare and train.init_preprocessing: keep work with csv, npz, "
                        "image-folder and text-csv data; to fine-tune on other data set train.init_preprocessing: "
                        "refit")


def active() -> Replay | None:
    return _ACTIVE.get()


def task(found: str) -> str:
    """The model's task (a classifier's new file may hold integers that look like a regression target)."""
    r = _ACTIVE.get()
    return r.spec["task"] if r is not None else found


def classes(found: list[str], source) -> list[str]:
    """The model's class list; a label it does not know is one line naming it."""
    r = _ACTIVE.get()
    if r is None or r.spec.get("class_names") is None:
        return found
    known = list(r.spec["class_names"])
    unknown = [c for c in found if c not in known]
    if unknown:
        raise UserError(f"{source}: label(s) {', '.join(map(repr, unknown[:5]))} are not among the model's classes "
                        f"({', '.join(known[:10])}{', ...' if len(known) > 10 else ''})",
                        "the model can only be scored on (or fine-tuned with) the classes it was trained on")
    return known


def preprocessor(fit: Callable, from_json: Callable):
    """The stored preprocessor when one is replayed, else `fit()`."""
    r = _ACTIVE.get()
    if r is None or r.preprocessing is None:
        return fit()
    r.asked.add("preprocessing")
    return from_json(r.preprocessing)


def extras(found: dict, keys: tuple[str, ...] = ()) -> dict:
    """Kind-specific spec facts: with a replayed preprocessing, the target scaling (and `keys`, e.g. a
    tokenizer's vocabulary size) are the model's too."""
    r = _ACTIVE.get()
    if r is None or r.preprocessing is None:
        return found
    stored = r.spec.get("extras") or {}
    return {**found, **{k: stored[k] for k in ("target_mean", "target_std", *keys) if k in stored}}


def whole() -> bool:
    r = _ACTIVE.get()
    if r is not None:
        r.asked.add("whole")
    return r is not None and r.whole
