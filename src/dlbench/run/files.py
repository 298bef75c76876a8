"""Files of the run directory, written atomically and verified when read.

A file is written to a hidden temporary beside its destination, fsynced, renamed over it and the
directory fsynced: a reader sees the old file or the new one, never half of one, even after kill -9
or a power cut. Tensor files are safetensors (never pickle); `atomic_save_tensors` returns their sha256
so that the JSON record written after them can name it, and `load_verified_tensors` reads a file once,
checks those bytes against the recorded sha256 and only then parses them: nothing unverified is loaded.

A write that fails because of the machine (disk full, quota, read-only filesystem) removes its temporary
and raises one `UserError` naming the file; the destination keeps its previous content.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensor_bytes
from safetensors.torch import save as tensor_bytes

from dlbench.errors import UserError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO, errno.EACCES, errno.EPERM}
"""Errors of the machine rather than of dlbench: reported as one line instead of a traceback."""


def disk_error(path, e: OSError) -> UserError | None:
    """The one-line error for a write the machine refused, or None when `e` is not such an error."""
    if e.errno not in DISK_ERRNOS:
        return None
    hint = ("free some space and run the command again; an interrupted training run continues with --resume"
            if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "check the permissions and the filesystem")
    return UserError(f"cannot write {path or e.filename}: {e.strerror or os.strerror(e.errno)}", hint)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical_sha256(obj) -> str:
    """sha256 of a JSON value as it reads back from a file (tuples are lists, keys strings), keys sorted."""
    normal = json.loads(json.dumps(obj))
    return hashlib.sha256(json.dumps(normal, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        err = disk_error(path, e)
        if err is None:
            raise
        raise err from None


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def append_text(path: Path, text: str) -> None:
    """Append `text` with one write (O_APPEND: concurrent appenders of short lines do not interleave)."""
    try:
        with open(path, "ab", buffering=0) as f:
            data = memoryview(text.encode())
            while data:
                data = data[f.write(data):]
    except OSError as e:
        err = disk_error(path, e)
        if err is None:
            raise
        raise err from None


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> str:
    """Write a safetensors file atomically; return its sha256 (for the JSON record written after it)."""
    seen: dict[int, str] = {}
    flat = {}
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        ptr = v.data_ptr()
        flat[k] = v.clone() if ptr in seen and v.numel() else v  # tied weights: safetensors refuses shared storage
        seen[ptr] = k
    data = tensor_bytes(flat, metadata=metadata)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def load_verified_tensors(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file whose bytes hash to `sha256` (from the JSON record written after it).

    Raises ValueError, naming the file, when no valid sha256 is recorded, the file is missing or unreadable,
    its bytes do not match, or they are not a safetensors file (a pickle, a truncated file)."""
    path = Path(path)
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise ValueError(f"{path.name}: its record holds no valid sha256")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path.name}: unreadable ({e.strerror or e})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path.name}: sha256 does not match its record")
    try:
        return load_tensor_bytes(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError, OverflowError, KeyError, AssertionError) as e:
        raise ValueError(f"{path.name}: not a safetensors file ({str(e)[:200]})") from None
