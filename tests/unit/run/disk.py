"""A full disk, simulated: every write of the run directory goes through `open` in dlbench.run.files,
so patching that one name makes chosen files fail the way a full disk does (part of the bytes written,
then ENOSPC), while every other file of the process is untouched."""
from __future__ import annotations

import builtins
import errno
import fnmatch
from pathlib import Path

from dlbench.run import files


class _Full:
    def __init__(self, f, path):
        self._f, self._path = f, path

    def write(self, data):
        self._f.write(bytes(data[: len(data) // 2]))  # the disk fills up part-way through
        raise OSError(errno.ENOSPC, "No space left on device", self._path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
        return False

    def __getattr__(self, name):
        return getattr(self._f, name)


def fill_disk(monkeypatch, *patterns: str) -> list[str]:
    """From now on, writes to files whose name matches one of `patterns` (fnmatch, e.g. "config.yaml"
    or "step-*.safetensors"; the atomic temporaries `.NAME.tmp` match NAME) fail with ENOSPC.
    Returns the list the names of refused writes are appended to."""
    refused: list[str] = []

    def fake_open(file, mode="r", *args, **kwargs):
        f = builtins.open(file, mode, *args, **kwargs)
        name = Path(file).name
        if name.startswith(".") and name.endswith(".tmp"):
            name = name[1:-4]
        if any(c in mode for c in "wa+") and any(fnmatch.fnmatch(name, p) for p in patterns):
            refused.append(name)
            return _Full(f, str(file))
        return f

    monkeypatch.setattr(files, "open", fake_open, raising=False)
    return refused
