"""Device choice, autocast and the versions recorded with every result."""
from __future__ import annotations

import functools
import platform
from importlib.metadata import PackageNotFoundError, version

import torch

from dlbench.errors import UserError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"train.device: unknown device '{name}'", "use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"train.device is '{name}' but this machine has no CUDA GPU", "use train.device=cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"train.device '{name}': only {torch.cuda.device_count()} GPU(s) here")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("train.device is 'mps' but MPS is not available here")
    return dev


def autocast_for(device: torch.device, precision: str):
    """A context factory for the forward pass, or None for plain fp32."""
    if precision != "bf16":
        return None
    return functools.partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def versions() -> dict:
    return {"dlbench": _dlbench_version(), "torch": torch.__version__, "python": platform.python_version(),
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}



def _dlbench_version() -> str:
    try:
        return version("dlbench")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"
