"""Files of the run directory, written atomically and verified when read.

A file is written to a hidden temporary beside its destination, fsynced, renamed over it and the
directory fsynced: a reader sees the old file or the new one, never half of one, even after kill -9
or a power cut. Tensor files are safetensors (never pickle) and their sha256 is returned so that the
JSON record written after them can name it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> str:
    """Write a safetensors file atomically; return its sha256."""
    seen: dict[int, str] = {}
    flat = {}
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        ptr = v.data_ptr()
        flat[k] = v.clone() if ptr in seen and v.numel() else v  # tied weights: safetensors refuses shared storage
        seen[ptr] = k
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(flat, str(tmp), metadata=metadata)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    digest = sha256_file(tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return digest


def load_verified_tensors(path: Path, sha256: str | None) -> dict[str, torch.Tensor]:
    """Load a safetensors file after checking its sha256; raises ValueError when it does not match."""
    if sha256 is not None and sha256_file(path) != sha256:
        raise ValueError(f"{path.name}: sha256 does not match its record")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path.name}: unreadable ({e})") from None
