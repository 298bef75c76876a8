"""Fine-tuning from a finished run (`train.init_from`): the weights, checked to fit, and the data built for them.

`dlbench.api.train` loads and verifies the old run and checks the architecture (it sees run directories);
the supervised regime asks here, inside `initializing(...)`, for the data context (the old classes, and the
old preprocessing with `train.init_preprocessing: keep`) and loads the weights into the fresh model.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from dlbench.data.replay import replaying
from dlbench.errors import UserError


@dataclass(frozen=True)
class InitFrom:
    run: Path
    weights: dict
    """The old model's state_dict (verified tensors, CPU)."""
    spec: dict
    preprocessing: dict
    keep: bool
    """Replay the old preprocessing (True) or fit it on the new data (False)."""


_ACTIVE: ContextVar[InitFrom | None] = ContextVar("dlbench_init_from", default=None)


@contextlib.contextmanager
def initializing(init: InitFrom | None):
    token = _ACTIVE.set(init)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> InitFrom | None:
    return _ACTIVE.get()


def data_context(kind: str):
    """Where the new data (of data `kind`) is built: for the old model's classes (and preprocessing, when kept)."""
    init = _ACTIVE.get()
    if init is None:
        return contextlib.nullcontext()
    return replaying(init.spec, init.preprocessing if init.keep else None, kind=kind)


def load_weights(model, spec) -> None:
    """Copy the old weights into `model`, built for the new data `spec`; a mismatch is one line naming it."""
    init = _ACTIVE.get()
    if init is None:
        return
    old = init.spec
    for what, a, b in (("input shape", list(old["input_shape"]), list(spec.input_shape)),
                       ("number of classes", old.get("num_classes"), spec.num_classes),
                       ("number of regression outputs", old.get("target_dim", 1), spec.target_dim)):
        if a != b:
            hint = "set train.init_preprocessing: keep (the old run's features)" if not init.keep else \
                "fine-tune on data with the same inputs and classes"
            raise UserError(f"--init-from {init.run}: the new data gives another {what} ({b}) than the old run's "
                            f"({a})", hint)
    try:
        model.load_state_dict(init.weights)
    except RuntimeError as e:
        raise UserError(f"--init-from {init.run}: its weights do not fit this model ({str(e).splitlines()[0]})",
                        "use the old run's model section unchanged") from None
